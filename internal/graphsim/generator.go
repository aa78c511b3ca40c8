// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/coex-operator/coex-operator/internal/webhook"
)

// Seconds in a day, and the age below which media follows its placeholder (Meta keeps media
// for 14 days).
const (
	daySec         = 24 * 60 * 60
	recentMediaSec = 14 * daySec
)

// phaseAgo bounds each history phase in seconds before onboarding: [lo, hi).
var phaseAgo = [3][2]float64{{0, daySec}, {daySec, 90 * daySec}, {90 * daySec, 180 * daySec}}

// generator produces a scenario's history without holding it: per thread and phase it keeps
// only a message count (and prefix sums to find a chunk's first thread); every message is a
// pure function of (seed, thread, phase, index), built when its chunk is built.
type generator struct {
	r        resolved
	onb      int64  // onboarding time, Unix seconds
	idSalt   uint64 // makes message ids differ between numbers and seeds
	userBase uint64
	counts   [3][]int32 // counts[p][i]: messages of thread i in phase p
	prefix   [3][]int64 // prefix[p][i]: messages of phase p in threads before i
	totals   Totals
}

func newGenerator(r resolved, phoneID string) *generator {
	g := &generator{
		r: r, onb: r.onboardedAt.Unix(),
		idSalt:   hash(r.seed, strHash(phoneID), 0x1d),
		userBase: hash(r.seed, 0x05e4) % 10_000_000_000,
	}
	g.allocate()
	g.totals = g.computeTotals()
	return g
}

// allocate spreads the messages over threads (skewed: a few busy chats, many quiet ones)
// and each thread's messages over the phases its active period overlaps.
func (g *generator) allocate() {
	t := g.r.threads
	for p := range 3 {
		g.counts[p] = make([]int32, t)
		g.prefix[p] = make([]int64, t+1)
	}
	if t == 0 {
		return
	}
	w := make([]float64, t)
	for i := range t {
		u := unit(hash(g.r.seed, 0x17, uint64(i)))
		w[i] = 0.02 + u*u*u
	}
	perThread := largestRemainder(g.r.messages, w)
	for i := range t {
		var ov [3]float64
		for p := range 3 {
			if lo, hi, ok := g.overlap(i, p); ok {
				ov[p] = hi - lo
			}
		}
		split := largestRemainder(int(perThread[i]), ov[:])
		for p := range 3 {
			g.counts[p][i] = split[p]
		}
	}
	for p := range 3 {
		for i := range t {
			g.prefix[p][i+1] = g.prefix[p][i] + int64(g.counts[p][i])
		}
	}
}

// largestRemainder splits total into integers proportional to w (Hamilton's method), so the
// parts add up exactly; a zero weight gets nothing.
func largestRemainder(total int, w []float64) []int32 {
	out := make([]int32, len(w))
	var sum float64
	for _, x := range w {
		sum += x
	}
	if total == 0 || sum <= 0 {
		return out
	}
	frac := make([]float64, len(w))
	given := 0
	for i, x := range w {
		q := float64(total) * x / sum
		out[i] = int32(q)
		frac[i] = q - float64(out[i])
		given += int(out[i])
	}
	idx := make([]int, 0, len(w))
	for i := range w {
		if w[i] > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case frac[a] > frac[b]:
			return -1
		case frac[a] < frac[b]:
			return 1
		}
		return 0
	})
	// Rounding can leave the floors off by a few either way; settle it on positive weights.
	for k := 0; given < total; k++ {
		out[idx[k%len(idx)]]++
		given++
	}
	for k := len(idx) - 1; given > total; k-- {
		if i := idx[(k%len(idx)+len(idx))%len(idx)]; out[i] > 0 {
			out[i]--
			given--
		}
	}
	return out
}

// window is thread i's active period in seconds before onboarding: from first (older) to
// last. About 30% of threads were active within the last day.
func (g *generator) window(i int) (last, first float64) {
	u1 := unit(hash(g.r.seed, 0x11, uint64(i)))
	u2 := unit(hash(g.r.seed, 0x12, uint64(i)))
	if u1 < 0.3 {
		last = u1 / 0.3 * 0.9 * daySec
	} else {
		last = (u1 - 0.3) / 0.7 * 179 * daySec
	}
	first = last + (180*daySec-last)*(0.05+0.95*u2)
	return last, first
}

// overlap is the part of thread i's active period inside phase p.
func (g *generator) overlap(i, p int) (lo, hi float64, ok bool) {
	last, first := g.window(i)
	lo, hi = max(last, phaseAgo[p][0]), min(first, phaseAgo[p][1])
	return lo, hi, hi > lo
}

// genMsg is one generated message before it is dressed as JSON.
type genMsg struct {
	i, p, k int
	h       uint64
	ts      int64
	fromBiz bool
	media   int // index into mediaKinds, -1 for text
}

// msg is message k (0 = oldest) of thread i's n messages in phase p, spread evenly with
// jitter over the overlap [lo, hi), so timestamps rise with k and stay inside the phase.
func (g *generator) msg(i, p, k, n int, lo, hi float64) genMsg {
	h := hash(g.r.seed, uint64(i), uint64(p), uint64(k))
	frac := (float64(k) + 0.1 + 0.8*unit(h)) / float64(n)
	ago := int64(hi - (hi-lo)*frac)
	ago = min(max(ago, int64(phaseAgo[p][0])), int64(phaseAgo[p][1])-1)
	m := genMsg{i: i, p: p, k: k, h: h, ts: g.onb - ago, fromBiz: h>>63 == 1, media: -1}
	if g.r.mediaShare > 0 && unit(mix(h^0x3e)) < g.r.mediaShare {
		m.media = int(mix(h^0x4d) % uint64(len(mediaKinds)))
	}
	return m
}

func (g *generator) recent(m genMsg) bool { return g.onb-m.ts < recentMediaSec }

// mediaKinds weights images most, as chats do.
var mediaKinds = []struct{ typ, mime string }{
	{"image", "image/jpeg"}, {"image", "image/jpeg"}, {"image", "image/jpeg"},
	{"image", "image/jpeg"}, {"image", "image/jpeg"}, {"image", "image/jpeg"},
	{"video", "video/mp4"}, {"audio", "audio/ogg; codecs=opus"},
	{"document", "application/pdf"}, {"sticker", "image/webp"},
}

var phrases = []string{
	"Hi, is this still available?", "Thanks for your order!", "What time do you open tomorrow?",
	"Your package has shipped.", "Can I pay on delivery?", "See you at 3pm.",
	"Here's the info you requested!", "Do you deliver to my area?", "Thank you!",
	"The price is 25 including delivery.", "Please send your address.",
	"Good morning! Any news about my order?", "Ok 👍", "Can you send me the menu?",
}

// messageID is a unique wamid: the salt, then thread, phase and index in a self-delimiting
// encoding, so no two messages of a number share an id.
func (g *generator) messageID(i, p, k int) string {
	var b [8 + 1 + 2*binary.MaxVarintLen64]byte
	binary.BigEndian.PutUint64(b[:8], g.idSalt)
	n := 8
	n += binary.PutUvarint(b[n:], uint64(i))
	b[n] = byte(p)
	n++
	n += binary.PutUvarint(b[n:], uint64(k))
	return "wamid." + base64.StdEncoding.EncodeToString(b[:n])
}

// userWaID is the WhatsApp id of thread (or contact) j's user, in the number's country.
func (g *generator) userWaID(j int) string {
	// 7919 is coprime with 10^10, so distinct j give distinct numbers.
	return fmt.Sprintf("%s%010d", g.r.cc, (g.userBase+uint64(j)*7919)%10_000_000_000)
}

// wire dresses m for a history chunk; for recent media it also returns the follow-up
// message carrying the media itself.
func (g *generator) wire(m genMsg, user string) (wireMessage, *wireMessage) {
	w := wireMessage{ID: g.messageID(m.i, m.p, m.k), Timestamp: unixString(m.ts)}
	if m.fromBiz {
		w.From, w.To = g.r.display, user
	} else {
		w.From = user
	}
	status := "READ"
	switch s := mix(m.h^0x57) % 10; {
	case m.fromBiz && s >= 9:
		status = "SENT"
	case s >= 6:
		status = "DELIVERED"
	}
	if m.media < 0 {
		w.Type = webhook.TypeText
		w.Text = &webhook.Text{Body: phrases[mix(m.h^0x7e)%uint64(len(phrases))]}
		w.HistoryContext = &webhook.HistoryContext{Status: status}
		return w, nil
	}
	kind := mediaKinds[m.media]
	if status == "READ" && (kind.typ == "audio" || kind.typ == "video") {
		status = "PLAYED"
	}
	full := wireMessage{From: w.From, To: w.To, ID: w.ID, Timestamp: w.Timestamp}
	w.Type = webhook.TypeMediaPlaceholder
	w.HistoryContext = &webhook.HistoryContext{Status: status}
	if !g.recent(m) {
		return w, nil
	}
	mediaID := fmt.Sprintf("%d", 10_000_000_000_000_000+mix(m.h^0x6d)%9_000_000_000_000_000)
	sum := sha256.Sum256([]byte(mediaID))
	media := &webhook.Media{ID: mediaID, MimeType: kind.mime, SHA256: hex.EncodeToString(sum[:])}
	if (kind.typ == "image" || kind.typ == "video") && m.h&2 == 0 {
		media.Caption = phrases[mix(m.h^0xca)%uint64(len(phrases))]
	}
	full.setMedia(kind.typ, media)
	return w, &full
}

// dataChunks is the number of non-empty chunks of phase p.
func (g *generator) dataChunks(p int) int {
	total := g.prefix[p][g.r.threads]
	return int((total + int64(g.r.perChunk) - 1) / int64(g.r.perChunk))
}

// phaseOrder is the order chunk indices of phase p are sent in: shuffled (Meta's chunks
// arrive out of order), never sorted when there are two or more. A phase without messages
// sends one empty chunk; phase 2 ends with an empty chunk (progress 100).
func (g *generator) phaseOrder(p int) []int {
	d := g.dataChunks(p)
	order := rand.New(rand.NewPCG(g.r.seed, uint64(p)+0xc4)).Perm(d)
	if d >= 2 && slices.IsSorted(order) {
		order[0], order[1] = order[1], order[0]
	}
	if p == 2 || d == 0 {
		order = append(order, d) // chunk d is past the last message: empty
	}
	return order
}

// chunk builds chunk c (0-based) of phase p: its threads, and the recent media that follow
// it. Only this chunk's messages are generated.
func (g *generator) chunk(p, c int) ([]wireThread, []wireMessage) {
	t := g.r.threads
	per := int64(g.r.perChunk)
	start := int64(c) * per
	end := min(start+per, g.prefix[p][t])
	threads := []wireThread{}
	var follow []wireMessage
	// The first thread holding position start.
	i, _ := slices.BinarySearchFunc(g.prefix[p][1:], start, func(v, target int64) int {
		if v > target {
			return 1
		}
		return -1
	})
	for pos := start; pos < end && i < t; i++ {
		n := int(g.counts[p][i])
		if n == 0 {
			continue
		}
		k0 := int(pos - g.prefix[p][i])
		take := min(n-k0, int(end-pos))
		lo, hi, _ := g.overlap(i, p)
		user := g.userWaID(i)
		msgs := make([]wireMessage, 0, take)
		for k := k0; k < k0+take; k++ {
			w, media := g.wire(g.msg(i, p, k, n, lo, hi), user)
			msgs = append(msgs, w)
			if media != nil {
				follow = append(follow, *media)
			}
		}
		threads = append(threads, wireThread{ID: user, Messages: msgs})
		pos += int64(take)
	}
	return threads, follow
}

// computeTotals walks every message cheaply (no JSON, no ids) to count what will be sent.
func (g *generator) computeTotals() Totals {
	r := g.r
	tot := Totals{
		ContactsAdded: r.contactsAdded, ContactsRemoved: r.contactsRemoved,
		ContactWebhooks: ceilDiv(r.contactsAdded, r.contactsPerWebhook) + ceilDiv(r.contactsRemoved, r.contactsPerWebhook),
	}
	if r.declined {
		tot.HistoryDeclined, tot.HistoryWebhooks = true, 1
		return tot
	}
	for i := range r.threads {
		if g.counts[0][i]+g.counts[1][i]+g.counts[2][i] > 0 {
			tot.Threads++
		}
	}
	for p := range 3 {
		tot.MessagesPerPhase[p] = int(g.prefix[p][r.threads])
		tot.Messages += tot.MessagesPerPhase[p]
		tot.ChunksPerPhase[p] = len(g.phaseOrder(p))
		tot.HistoryWebhooks += tot.ChunksPerPhase[p]
		lastChunk := int64(-1)
		for i := range r.threads {
			n := int(g.counts[p][i])
			if n == 0 {
				continue
			}
			lo, hi, _ := g.overlap(i, p)
			for k := range n {
				m := g.msg(i, p, k, n, lo, hi)
				if m.media < 0 {
					continue
				}
				tot.MediaMessages++
				if !g.recent(m) {
					continue
				}
				tot.MediaFollowUps++
				if c := (g.prefix[p][i] + int64(k)) / int64(r.perChunk); c != lastChunk {
					lastChunk = c
					tot.MediaFollowUpWebhooks++
				}
			}
		}
	}
	tot.HistoryWebhooks += tot.MediaFollowUpWebhooks
	return tot
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
