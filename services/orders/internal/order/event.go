package order

// Event is what a change of an order announces to other services: reaching a final state.
type Event int

// Events. NoEvent: the change is a step inside the saga that nobody outside needs to know.
const (
	NoEvent Event = iota
	EventConfirmed
	EventRejected
	EventCanceled
)

// Announces is the event that o, having just moved on from step from, announces. Moving to a
// final state is announced once: a step persisted again from the same step is refused by the
// store's guard, so a retried saga step never announces twice.
func (o Order) Announces(from Step) Event {
	if from == o.Step {
		return NoEvent
	}
	switch {
	case o.Step == StepConfirmed && o.Status == StatusConfirmed:
		return EventConfirmed
	case o.Step == StepDone && o.Status == StatusRejected:
		return EventRejected
	case o.Step == StepDone && o.Status == StatusCanceled:
		return EventCanceled
	}
	return NoEvent
}
