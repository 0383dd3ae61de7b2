// A Go HTTP server using the standard library only: hop3 builds it with `go build` and runs the
// binary (bin/app) as the app's web process, bound to $PORT.
package main

import (
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
	"runtime"
)

func main() {
	app, release := os.Getenv("HOP3_APP"), os.Getenv("HOP3_RELEASE")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<h1>Hello from %s %s on %s</h1>\n<p>You asked for %s</p>\n",
			html.EscapeString(app), html.EscapeString(release), runtime.Version(), html.EscapeString(r.URL.Path))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
