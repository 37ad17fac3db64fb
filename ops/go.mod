module mercato.dev/ops

go 1.26.8

replace (
	golang.org/x/exp v0.0.0-20261011100332-faecfb24eb49 => golang.org/x/exp v0.0.0-20260820142414-ca536658362e
	mercato.dev/certs => ../certs
	mercato.dev/ent => ../ent
	mercato.dev/proto => ../proto
	mercato.dev/services/kit => ../services/kit
)
