module mercato.dev/services/notifications

go 1.26.8

require (
	mercato.dev/ent v0.0.0
	mercato.dev/proto v0.0.0
	mercato.dev/services/kit v0.0.0
)

replace (
	mercato.dev/certs => ../../certs
	mercato.dev/ent => ../../ent
	mercato.dev/proto => ../../proto
	mercato.dev/services/kit => ../kit
)

// The newer x/exp that goose asks for is refused by the module proxy; see go.work.
replace golang.org/x/exp v0.0.0-20261011100332-faecfb24eb49 => golang.org/x/exp v0.0.0-20260820142414-ca536658362e
