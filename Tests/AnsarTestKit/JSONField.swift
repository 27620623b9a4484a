/// The number a flat JSON report (a process's `--pure-object` value) gives for `name`, if any:
/// enough for tests and benchmarks that read a few fields of a report.
public func jsonNumber(_ name: String, in json: String) -> Double? {
    let parts = json.split(separator: "\"\(name)\":", maxSplits: 1)
    guard parts.count == 2 else { return nil }
    return Double(parts[1].prefix { $0.isNumber || $0 == "." || $0 == "-" || $0 == "e" || $0 == "+" })
}
