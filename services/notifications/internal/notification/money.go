package notification

import (
	"fmt"
	"strconv"
	"strings"
)

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Minor    int64
	Currency string
}

// String formats m as a customer reads it, in the currency's major unit: "59.98 EUR",
// "1200 JPY", "1.250 KWD".
func (m Money) String() string {
	digits := minorDigits(m.Currency)
	neg, v := m.Minor < 0, m.Minor
	if neg {
		v = -v
	}
	s := strconv.FormatUint(uint64(v), 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return fmt.Sprintf("%s %s", s, m.Currency)
}

// minorDigits is how many decimal digits the currency's minor unit has (ISO 4217): 2 for most.
func minorDigits(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}
