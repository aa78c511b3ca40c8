// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package receiver_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coex-operator/coex-operator/internal/graphsim"
	"github.com/coex-operator/coex-operator/internal/webhook"
)

// TestRefusalsAndDeadLetters sends the receiver binary what Meta would not: forged and
// unsigned bodies (401, nothing kept, counted), an oversized one (413), then signed bodies it
// cannot apply (200, kept as dead letters). `receiver --dead-letters` lists the kept ones.
func TestRefusalsAndDeadLetters(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		w := newWorldOn(t, b, graphsim.DeliveryOptions{})
		w.addNumber("desk", "2003", "3003", graphsim.Scenario{})
		waitFor(t, time.Minute, "the receiver to answer", w.handshakeOK)
		post := func(body []byte, sig string) int {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, w.callbackURL(), bytes.NewReader(body))
			must(t, err)
			if sig != "" {
				req.Header.Set(webhook.SignatureHeader, sig)
			}
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		valid := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"2003","changes":[{"field":"smb_message_echoes",` +
			`"value":{"metadata":{"phone_number_id":"3003"},"message_echoes":[{"from":"1","to":"2","id":"wamid.E1","timestamp":"1739230955","type":"text","text":{"body":"hi"}}]}}]}]}`)
		for name, c := range map[string]struct {
			body []byte
			sig  string
			want int
		}{
			"unsigned":                  {valid, "", http.StatusUnauthorized},
			"signed with another key":   {valid, webhook.Sign([]byte("not-the-app-secret"), valid), http.StatusUnauthorized},
			"signature of another body": {valid, webhook.Sign([]byte(appSecret), []byte("{}")), http.StatusUnauthorized},
			"not hex":                   {valid, "sha256=zz", http.StatusUnauthorized},
			"over the size limit":       {bytes.Repeat([]byte("x"), 5<<20), "sha256=00", http.StatusRequestEntityTooLarge},
		} {
			if got := post(c.body, c.sig); got != c.want {
				t.Errorf("%s: %d, want %d", name, got, c.want)
			}
		}
		if got := w.rcv.Metric("coex_receiver_signature_failures_total"); got != 4 {
			t.Errorf("signature failures counted: %v, want 4", got)
		}

		notJSON := []byte(`{"object":"whatsapp_business_account","entry":[`)
		unknownNumber := bytes.ReplaceAll(valid, []byte(`"3003"`), []byte(`"9999"`))
		for _, body := range [][]byte{notJSON, unknownNumber, valid} {
			if got := post(body, webhook.Sign([]byte(appSecret), body)); got != http.StatusOK {
				t.Errorf("signed body answered %d, want 200", got)
			}
		}
		waitFor(t, time.Minute, "the valid echo in status", func() (bool, string) {
			e := w.number("desk").Status.Echoes
			return e != nil && e.Count == 1, ""
		})
		waitFor(t, time.Minute, "two dead letters", func() (bool, string) {
			v := w.rcv.Metric("coex_receiver_dead_letters_total")
			return v == 2, ""
		})

		w.rcv.Stop(syscall.SIGTERM)
		out, err := exec.Command(w.rcv.Bin, append([]string{"--dead-letters"}, w.storeArgs(w.rcv.Dir)...)...).CombinedOutput()
		must(t, err)
		var reasons []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var line struct {
				Namespace, Metaapp, Reason string
				Bytes                      int
				Body                       *string
			}
			must(t, json.Unmarshal(sc.Bytes(), &line))
			if line.Namespace != w.ns || line.Metaapp != appName || line.Bytes == 0 || line.Body != nil {
				t.Errorf("dead letter %s", sc.Text())
			}
			reasons = append(reasons, line.Reason)
		}
		if len(reasons) != 2 || !strings.Contains(reasons[0], "cannot parse") || !strings.Contains(reasons[1], "phoneNumberID 9999") {
			t.Errorf("dead letters: %q", reasons)
		}

		// The missing CoexNumber is created; the dead letters are replayed into the spool and the
		// receiver started again: the echo for 9999 is applied, the unreadable body is kept again.
		w.addNumber("late", "2003", "9999", graphsim.Scenario{})
		out, err = exec.Command(w.rcv.Bin, append([]string{"--replay-dead-letters"}, w.storeArgs(w.rcv.Dir)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "2 dead letters moved") {
			t.Fatalf("--replay-dead-letters: %v: %s", err, out)
		}
		w.rcv.Start()
		waitFor(t, time.Minute, "the replayed echo in the late number's status", func() (bool, string) {
			e := w.number("late").Status.Echoes
			return e != nil && e.Count == 1, fmt.Sprintf("%+v", e)
		})
		if e := w.number("desk").Status.Echoes; e == nil || e.Count != 1 {
			t.Errorf("desk's echoes after the replay: %+v, want still 1", e)
		}
		waitFor(t, time.Minute, "the unreadable body kept again", func() (bool, string) {
			v := w.rcv.Metric("coex_receiver_dead_letters_total")
			return v == 1, fmt.Sprint(v)
		})
		w.rcv.Stop(syscall.SIGTERM)
		out, err = exec.Command(w.rcv.Bin, append([]string{"--dead-letters"}, w.storeArgs(w.rcv.Dir)...)...).CombinedOutput()
		must(t, err)
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; lines != 1 || !strings.Contains(string(out), "cannot parse") {
			t.Errorf("dead letters after the replay:\n%s", out)
		}
	})
}
