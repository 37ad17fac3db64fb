package controlplane

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce lets an editor finish writing before the file is read.
const debounce = 50 * time.Millisecond

// watch signals when the routes file may have changed: on any event in its directory (editors
// replace files, Kubernetes swaps a ConfigMap's symlink) after a short debounce, and on a
// backstop poll. Reload compares content, so a spurious signal costs one read.
func (p *Plane) watch(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	poll := p.opts.Poll
	events := p.notifications(ctx)
	if events == nil && (poll == 0 || poll > 200*time.Millisecond) {
		poll = 200 * time.Millisecond
	}
	if poll == 0 {
		poll = time.Second
	}
	go func() {
		ticker := time.NewTicker(poll)
		defer ticker.Stop()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				timer.Reset(debounce)
			case <-timer.C:
				signal()
			case <-ticker.C:
				signal()
			}
		}
	}()
	return out
}

// notifications are fsnotify events of the routes file's directory, nil when they are
// unavailable (the poll then runs every 200ms).
func (p *Plane) notifications(ctx context.Context) <-chan fsnotify.Event {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		p.logger.Warn("no file notifications; polling the routes file", "error", err.Error())
		return nil
	}
	if err := w.Add(filepath.Dir(p.opts.RoutesFile)); err != nil {
		_ = w.Close()
		p.logger.Warn("no file notifications; polling the routes file", "error", err.Error())
		return nil
	}
	go func() {
		<-ctx.Done()
		_ = w.Close()
	}()
	go func() { // errors (e.g. queue overflow) only delay a change until the next poll
		for err := range w.Errors {
			p.logger.Debug("file notification error", "error", err.Error())
		}
	}()
	return w.Events
}
