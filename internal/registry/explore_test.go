package registry

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
)

func TestExplore(t *testing.T) {
	s := eprStore(t)
	r := newTestRegistry(t, s, true)
	for _, u := range []string{os.Getenv("U")} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
		var list []map[string]any
		if json.Unmarshal(w.Body.Bytes(), &list) == nil && os.Getenv("FULL") == "" {
			fmt.Println(u, w.Code, len(list))
			for _, p := range list {
				fmt.Println(" ", p["name"], p["version"], p["id"], p["count"])
			}
		} else {
			fmt.Println(u, w.Code, w.Header())
			fmt.Println(w.Body.String())
		}
	}
}
