package apijson

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, http.StatusCreated, map[string]string{"a": "<b> & c"})
	if w.Code != http.StatusCreated {
		t.Errorf("status %d, want 201", w.Code)
	}
	if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	if want := "{\n  \"a\": \"<b> & c\"\n}\n"; w.Body.String() != want {
		t.Errorf("body %q, want %q (indented, HTML not escaped)", w.Body.String(), want)
	}
	w = httptest.NewRecorder()
	Error(w, http.StatusBadRequest, "bad %s", "cursor")
	if w.Code != http.StatusBadRequest || w.Body.String() != "{\n  \"error\": \"bad cursor\"\n}\n" {
		t.Errorf("Error: %d %q", w.Code, w.Body.String())
	}
}
