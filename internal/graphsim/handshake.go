// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package graphsim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// verifyCallback does Meta's verification handshake: GET the URL with hub.mode=subscribe,
// hub.verify_token and a random hub.challenge; it passes only on a 200 whose body is the
// challenge, exactly.
func (s *Sim) verifyCallback(ctx context.Context, callbackURL, verifyToken string) error {
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the callback URL is not a valid absolute URL")
	}
	challenge := s.ids.challenge()
	qv := u.Query()
	qv.Set("hub.mode", "subscribe")
	qv.Set("hub.challenge", challenge)
	qv.Set("hub.verify_token", verifyToken)
	u.RawQuery = qv.Encode()
	ctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("the callback URL is not valid")
	}
	req.Header.Set("User-Agent", "facebookplatform/1.0 (+http://developers.facebook.com)")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("URL couldn't be validated: the connection failed")
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP Status Code = %d; HTTP Message = %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if !bytes.Equal(body, []byte(challenge)) {
		return fmt.Errorf("The URL couldn't be validated. Response does not match challenge, expected value=%q, received=%q",
			challenge, truncate(string(body), 64))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func errCallbackVerification(err error) graphError {
	return graphError{
		status: http.StatusBadRequest, code: 2200,
		message: "(#2200) Callback verification failed with the following errors: " + err.Error(),
	}
}
