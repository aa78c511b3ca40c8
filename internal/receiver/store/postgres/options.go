// Copyright 2026 The coex-operator Authors.
// SPDX-License-Identifier: Apache-2.0

package postgres

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// EnvDSN is the environment variable DSNFromEnvOrFile reads when no file is given.
const EnvDSN = "COEX_POSTGRES_DSN"

// Defaults of Options.
const (
	DefaultMaxConns                 = 20
	DefaultApplicationName          = "coex-receiver"
	DefaultIdleInTransactionTimeout = 5 * time.Minute
	DefaultConnectTimeout           = 10 * time.Second
	DefaultSeenCacheBytes           = 128 << 20
)

// Options configure Open.
type Options struct {
	// DSN is a libpq connection string or URL. It usually holds a password: it is never
	// logged nor put in an error. Several hosts with target_session_attrs=read-write follow
	// a failover without a restart.
	DSN string
	// MaxConns bounds the pool (DefaultMaxConns). Each claimed batch and each outbox lease
	// holds a connection until it is applied or released, so it must exceed the relay's
	// workers plus the batches claimed ahead, with room for appends.
	MaxConns int
	// ApplicationName shows in pg_stat_activity (DefaultApplicationName), unless the DSN
	// sets application_name.
	ApplicationName string
	// IdleInTransactionTimeout ends a claim whose receiver stopped talking to the server
	// while alive (a stuck process; a dead one is noticed by TCP keepalives), so its MetaApp
	// is not blocked for good (DefaultIdleInTransactionTimeout; negative: never).
	IdleInTransactionTimeout time.Duration
	// SeenCacheBytes bounds the memory holding the item keys of the streams applied lately
	// (DefaultSeenCacheBytes): a stream whose keys are not held is read from the database by
	// its next batch. About 65 bytes a key: a 500,000-message history holds some 35 MB.
	SeenCacheBytes int64
	// Logger gets connection trouble (at V(1) when it is routine, like a lost LISTEN
	// connection). Never the DSN.
	Logger logr.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.SeenCacheBytes <= 0 {
		o.SeenCacheBytes = DefaultSeenCacheBytes
	}
	if o.ApplicationName == "" {
		o.ApplicationName = DefaultApplicationName
	}
	if o.IdleInTransactionTimeout == 0 {
		o.IdleInTransactionTimeout = DefaultIdleInTransactionTimeout
	}
	return o
}

// DSNFromEnvOrFile returns the DSN from file when it is not empty (the --postgres-dsn-file
// flag, a mounted Secret), else from the environment variable env (EnvDSN when empty).
// Surrounding white space, such as the newline a Secret file often ends with, is trimmed.
// Errors name the file or the variable, never the content.
func DSNFromEnvOrFile(file, env string) (string, error) {
	if env == "" {
		env = EnvDSN
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			// os errors carry the path and the cause only.
			return "", fmt.Errorf("reading the postgres DSN: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("the postgres DSN file %s is empty", file)
		}
		return dsn, nil
	}
	if dsn := strings.TrimSpace(os.Getenv(env)); dsn != "" {
		return dsn, nil
	}
	return "", errors.New("no postgres DSN: give a file (--postgres-dsn-file) or set $" + env)
}
