package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/prodcat/prodcat/internal/registry"
)

func TestListFeeds(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Feeds []registry.FeedVersion `json:"feeds"`
	}
	decodeBody(t, h.do("GET", "/v1/feeds", asPredict, ""), &got)
	if len(got.Feeds) != 1 || got.Feeds[0].Feed != testFeed || got.Feeds[0].Version != 2 || got.Feeds[0].Note != "nightly export" {
		t.Fatalf("feeds %+v, want %s at version 2", got.Feeds, testFeed)
	}
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/feeds", asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}

func TestGetFeed(t *testing.T) {
	h := newHarness(t)
	var got struct {
		Name     string                 `json:"name"`
		Versions []registry.FeedVersion `json:"versions"`
	}
	decodeBody(t, h.do("GET", "/v1/feeds/"+testFeed, asPredict, ""), &got)
	if got.Name != testFeed || len(got.Versions) != 2 || got.Versions[0].Version != 2 || got.Versions[1].Version != 1 {
		t.Fatalf("feed %+v, want versions 2 then 1", got)
	}
	wantError(t, h.do("GET", "/v1/feeds/nope", asPredict, ""), http.StatusNotFound, codeNotFound)
	wantError(t, h.do("POST", "/v1/feeds/"+testFeed, asAdmin, "{}"), http.StatusMethodNotAllowed, codeMethodNotAllowed)
	h.reg.down = errors.New(errDownText)
	wantError(t, h.do("GET", "/v1/feeds/"+testFeed, asPredict, ""), http.StatusServiceUnavailable, codeUnavailable)
}
