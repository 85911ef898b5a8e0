package tokens

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrNoSuchToken is returned by Revoke for a name the file does not hold.
var ErrNoSuchToken = errors.New("no token of that name")

// Entries returns copies of the set's tokens, in file order.
func (s *Set) Entries() []Token {
	if s == nil {
		return nil
	}
	out := make([]Token, len(s.tokens))
	for i, t := range s.tokens {
		out[i] = *t
	}
	return out
}

// Expired reports whether t has expired at now.
func (t *Token) Expired(now time.Time) bool { return t.Expires != nil && !now.Before(*t.Expires) }

// Revoke returns the tokens file data without the token called name. It
// edits the YAML tree, so the other entries, their order and comments
// stay; the result parses (Parse) or an error says why.
func Revoke(data []byte, name string) ([]byte, error) {
	if _, err := Parse(data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var list *yaml.Node
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "tokens" && m.Content[i+1].Kind == yaml.SequenceNode {
				list = m.Content[i+1]
			}
		}
	}
	if list == nil {
		return nil, fmt.Errorf("revoke %q: %w (the file lists no tokens)", name, ErrNoSuchToken)
	}
	found := false
	kept := list.Content[:0:0]
	for _, item := range list.Content {
		if item.Kind == yaml.MappingNode && fieldOf(item, "name") == name {
			found = true
			continue
		}
		kept = append(kept, item)
	}
	if !found {
		return nil, fmt.Errorf("revoke %q: %w", name, ErrNoSuchToken)
	}
	list.Content = kept
	if len(kept) == 0 {
		list.Style = yaml.FlowStyle // "tokens: []": every named token revoked on purpose
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("revoke %q: %w", name, err)
	}
	out := buf.Bytes()
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("revoke %q: the edited file does not parse: %w", name, err)
	}
	return out, nil
}

func fieldOf(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// folder, synced, then renamed over it, so that a server polling the file
// (Store.Run) reads the old content or the new, never half of it. The
// file keeps its permissions.
func WriteFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
