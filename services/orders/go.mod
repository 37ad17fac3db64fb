module mercato.dev/services/orders

go 1.26.8

require github.com/google/uuid v1.6.0

replace (
	mercato.dev/certs => ../../certs
	mercato.dev/ent => ../../ent
	mercato.dev/proto => ../../proto
	mercato.dev/services/kit => ../kit
)

replace golang.org/x/exp v0.0.0-20261011100332-faecfb24eb49 => golang.org/x/exp v0.0.0-20260820142414-ca536658362e
