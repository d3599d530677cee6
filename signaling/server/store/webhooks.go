package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// WebhookKey is the key of a team's webhook in the webhooks bucket.
func WebhookKey(team, id string) string { return Token(team) + "." + Token(id) }

// ListWebhooks reads team's webhooks, oldest first.
func (st *Store) ListWebhooks(ctx context.Context, team string) ([]Webhook, error) {
	var out []Webhook
	_, err := st.Scan(ctx, BucketWebhooks, []string{Token(team) + ".*"}, func(_ string, m *jetstream.RawStreamMsg) {
		var w Webhook
		if json.Unmarshal(m.Data, &w) == nil {
			out = append(out, w)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: list webhooks: %w", err)
	}
	slices.SortFunc(out, func(a, b Webhook) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// GetWebhook reads one of team's webhooks; found is false when it has none
// of that id.
func (st *Store) GetWebhook(ctx context.Context, team, id string) (w Webhook, found bool, err error) {
	_, found, err = GetJSON(ctx, st.Webhooks, WebhookKey(team, id), &w)
	return w, found, err
}
