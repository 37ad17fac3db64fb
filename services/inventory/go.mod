module mercato.dev/services/inventory

go 1.26.8

require (
	entgo.io/ent v0.14.5
	github.com/google/uuid v1.6.0
	mercato.dev/ent v0.0.0
)

require (
	ariga.io/atlas v0.32.1-0.20250325101103-175b25e1c1b9 // indirect
	github.com/agext/levenshtein v1.2.3 // indirect
	github.com/apparentlymart/go-textseg/v15 v15.0.0 // indirect
	github.com/bmatcuk/doublestar v1.3.4 // indirect
	github.com/go-openapi/inflect v0.19.0 // indirect
	github.com/google/go-cmp v0.6.0 // indirect
	github.com/hashicorp/hcl/v2 v2.18.1 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/mitchellh/go-wordwrap v1.0.1 // indirect
	github.com/zclconf/go-cty v1.14.4 // indirect
	github.com/zclconf/go-cty-yaml v1.1.0 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace (
	mercato.dev/certs => ../../certs
	mercato.dev/ent => ../../ent
	mercato.dev/proto => ../../proto
	mercato.dev/services/kit => ../kit
)

// See go.work: the newer x/exp that goose asks for is refused by the module proxy.
replace golang.org/x/exp v0.0.0-20261011100332-faecfb24eb49 => golang.org/x/exp v0.0.0-20260820142414-ca536658362e
