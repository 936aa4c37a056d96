module scopegate.local/bench/rate-http

go 1.26
