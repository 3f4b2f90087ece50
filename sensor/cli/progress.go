package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apitap/apitap/sensor"
	"github.com/apitap/apitap/sensor/capture"
)

// progressBar redraws one status line on a terminal while a capture is
// read. Its clock is the wall clock: it is a display, not part of the output.
type progressBar struct {
	w     io.Writer
	done  chan struct{}
	wg    sync.WaitGroup
	start time.Time
}

func startProgress(w io.Writer, src capture.Source, p *sensor.Pipeline, n, of int) *progressBar {
	b := &progressBar{w: w, done: make(chan struct{}), start: time.Now()}
	f, _ := src.(*capture.File)
	name := src.Name()
	if len(name) > 30 {
		name = "…" + name[len(name)-29:]
	}
	b0 := p.Bytes()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			el := time.Since(b.start).Seconds()
			read := p.Bytes() - b0
			line := fmt.Sprintf("[%d/%d] %s ", n, of, name)
			if f != nil {
				if done, total := f.Progress(); total > 0 {
					frac := float64(done) / float64(total)
					line += bar(frac, 24) + fmt.Sprintf(" %3.0f%% ", frac*100)
					if frac > 0.01 {
						line += "eta " + (time.Duration(el*(1-frac)/frac) * time.Second).Round(time.Second).String() + " "
					}
				}
			}
			line += fmt.Sprintf("%s %s/s  %s pkts  %s tx",
				humanBytes(read), humanBytes(uint64(float64(read)/max(el, 0.001))),
				humanCount(p.Packets()), humanCount(p.Transactions()))
			fmt.Fprint(w, "\r\033[K"+line)
		}
	}()
	return b
}

func (b *progressBar) stop() {
	if b == nil {
		return
	}
	close(b.done)
	b.wg.Wait()
}

func bar(frac float64, width int) string {
	frac = min(max(frac, 0), 1)
	full := int(frac * float64(width))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

func humanCount(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
