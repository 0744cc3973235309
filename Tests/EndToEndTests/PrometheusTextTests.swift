import Testing

/// The strict reader the metrics tests rely on: it takes the format and
/// refuses what breaks it.
struct PrometheusTextTests {
    @Test func readsSamplesLabelsAndHistograms() throws {
        let text = """
            # HELP cairn_requests_total Requests.
            # TYPE cairn_requests_total counter
            cairn_requests_total{method="system.hello",code="ok"} 2
            cairn_requests_total{method="a\\"b\\\\c\\nd",code="ok",} 1 1700000000000
            # TYPE cairn_store_used_bytes gauge
            cairn_store_used_bytes 6.144e+04
            # TYPE cairn_request_duration_seconds histogram
            cairn_request_duration_seconds_bucket{method="m",le="0.001"} 1
            cairn_request_duration_seconds_bucket{method="m",le="+Inf"} 2
            cairn_request_duration_seconds_sum{method="m"} 0.5
            cairn_request_duration_seconds_count{method="m"} 2

            """
        let metrics = try PrometheusText(parsing: text)
        #expect(metrics.value("cairn_requests_total", ["method": "system.hello", "code": "ok"]) == 2)
        #expect(metrics.value("cairn_requests_total", ["method": "a\"b\\c\nd", "code": "ok"]) == 1)
        #expect(metrics.value("cairn_store_used_bytes") == 61440)
        #expect(metrics.family(of: "cairn_request_duration_seconds_count") == "cairn_request_duration_seconds")
        #expect(metrics.types["cairn_store_used_bytes"] == "gauge")
    }

    @Test(arguments: [
        "a 1",  // no newline at the end
        "a{b=\"c\"} x\n",  // not a float
        "1a 1\n",  // bad metric name
        "a{1b=\"c\"} 1\n",  // bad label name
        "a{b=\"c\\t\"} 1\n",  // unknown escape
        "a{b=\"c\" 1\n",  // unterminated labels
        "a{b=\"c\",b=\"d\"} 1\n",  // a label twice
        "a 1\na 2\n",  // a series twice
        "a 1\nb 1\na{x=\"y\"} 1\n",  // a family split
        "# TYPE a counter\n# TYPE a counter\na 1\n",  // TYPE twice
        "a 1\n# TYPE a counter\n",  // TYPE after the samples
        "# TYPE a widget\na 1\n",  // unknown type
        "a 1 x\n",  // bad timestamp
        // Bucket counts that go down; a +Inf bucket that is not the _count.
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf bucket
    ])
    func refuses(_ text: String) {
        #expect(throws: PrometheusText.Malformed.self) { try PrometheusText(parsing: text) }
    }
}
