/// The result of `system.metrics`: the server's metrics as one text in an
/// exposition format.
///
/// Cairn answers with `format` `"prometheus-text-0.0.4"`: the text a
/// Prometheus server scrapes from `/metrics`, the same at that moment as
/// `cairn serve --metrics-listen` serves over HTTP (docs/operations.md
/// lists the metrics).
public struct MetricsResult: MethodResult, Equatable {
    /// The format Cairn's metrics are written in: Prometheus's text format, version 0.0.4.
    public static let prometheusText = "prometheus-text-0.0.4"

    /// How ``text`` is written, e.g. ``prometheusText``.
    public var format: String
    /// The metrics.
    public var text: String

    /// A result with `text` written in `format`.
    public init(format: String, text: String) {
        self.format = format
        self.text = text
    }

    public init(decoding result: JSONValue, attachment: [UInt8]?) throws(MethodResultError) {
        let fields = try ResultFields(result, "metrics")
        format = try fields.string("format")
        text = try fields.string("text")
    }

    public var encoded: JSONValue { .object(JSONObject([("format", .string(format)), ("text", .string(text))])) }
}
