/// Builds one JSON object on one line, keys in the order given (no Foundation, no
/// allocation per field beyond the string itself). Strings are escaped so that a hostile
/// value (control characters, quotes, invalid UTF-8 already repaired by Swift) cannot break
/// the line or forge another field.
public struct JSONLine {
    private var text = "{"
    private var first = true

    public init() {}

    private mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        Self.appendString(name, to: &text)
        text += ":"
    }

    public mutating func add(_ name: String, _ value: String) {
        key(name)
        Self.appendString(value, to: &text)
    }

    public mutating func add<T: BinaryInteger>(_ name: String, _ value: T) {
        key(name)
        text += String(value)
    }

    public mutating func add(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    public mutating func add(_ name: String, fraction value: Double, digits: Int = 3) {
        key(name)
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int64(scaled) / Int64(scale)
        let part = abs(Int64(scaled) % Int64(scale))
        var frac = String(part)
        frac = String(repeating: "0", count: max(0, digits - frac.count)) + frac
        text += (scaled < 0 && whole == 0 ? "-" : "") + "\(whole).\(frac)"
    }

    /// A nested object, already built.
    public mutating func add(_ name: String, object: JSONLine) {
        key(name)
        text += object.rendered
    }

    public mutating func add(_ name: String, strings values: [String]) {
        key(name)
        text += "["
        for (i, value) in values.enumerated() {
            if i > 0 { text += "," }
            Self.appendString(value, to: &text)
        }
        text += "]"
    }

    public mutating func add(_ name: String, objects values: [JSONLine]) {
        key(name)
        text += "[" + values.map(\.rendered).joined(separator: ",") + "]"
    }

    public var rendered: String { text + "}" }

    static func appendString(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
