package payment

// Payment method tokens that always decline.
const (
	MethodCardDeclined      = "pm_card_declined"
	MethodInsufficientFunds = "pm_insufficient_funds"
)

// MaxAmountMinor is the largest amount authorized; above it a payment declines.
const MaxAmountMinor = 1_000_000

// Decide is the processor's deterministic decision, the rule documented on PaymentService,
// checked in this order: the declining card, insufficient funds, then the amount.
func Decide(method string, amount Money) (Status, DeclineReason) {
	switch {
	case method == MethodCardDeclined:
		return Declined, CardDeclined
	case method == MethodInsufficientFunds:
		return Declined, InsufficientFunds
	case amount.AmountMinor > MaxAmountMinor:
		return Declined, AmountTooLarge
	}
	return Authorized, NotDeclined
}
