/// Builds one JSON object on one line, keys in the order given, straight into UTF-8 bytes (the
/// monitor writes a line per event: this is its hot path). Strings are escaped so that a
/// hostile value (control characters, quotes, line separators) cannot break the line or forge
/// another field.
public struct JSONLine {
    public private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    public init() {
        bytes.reserveCapacity(384)
    }

    private mutating func key(_ name: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Self.appendString(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func add(_ name: String, _ value: String) {
        key(name)
        Self.appendString(value, to: &bytes)
    }

    public mutating func add<T: BinaryInteger>(_ name: String, _ value: T) {
        key(name)
        Self.appendInteger(value, to: &bytes)
    }

    public mutating func add(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
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
        bytes.append(contentsOf: ((scaled < 0 && whole == 0 ? "-" : "") + "\(whole).\(frac)").utf8)
    }

    /// A nested object, already built.
    public mutating func add(_ name: String, object: JSONLine) {
        key(name)
        bytes.append(contentsOf: object.bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func add(_ name: String, strings values: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func add(_ name: String, objects values: [JSONLine]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: value.bytes)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The object's bytes, closed.
    public var closedBytes: [UInt8] { bytes + [UInt8(ascii: "}")] }

    public var rendered: String { String(decoding: closedBytes, as: UTF8.self) }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendInteger<T: BinaryInteger>(_ value: T, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendInteger(UInt64(truncatingIfNeeded: -Int64(value)), to: &out)
            return
        }
        var v = UInt64(value)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            } while v > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// A JSON string: escapes quotes, backslash, C0 and C1 controls, DEL and U+2028/U+2029.
    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var utf8 = value.utf8
        if let fast = utf8.withContiguousStorageIfAvailable({ appendEscaped($0, to: &out) }) {
            _ = fast
        } else {
            var copy = value
            copy.makeContiguousUTF8()
            utf8 = copy.utf8
            _ = utf8.withContiguousStorageIfAvailable { appendEscaped($0, to: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ s: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var i = 0
        while i < s.count {
            let b = s[i]
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F:
                appendUnicodeEscape(UInt32(b), to: &out)
            case 0xC2 where i + 1 < s.count && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F:
                appendUnicodeEscape(UInt32(s[i + 1]), to: &out) // C1 control U+0080..U+009F
                i += 1
            case 0xE2 where i + 2 < s.count && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9):
                appendUnicodeEscape(s[i + 2] == 0xA8 ? 0x2028 : 0x2029, to: &out)
                i += 2
            default:
                out.append(b)
            }
            i += 1
        }
    }

    private static func appendUnicodeEscape(_ value: UInt32, to out: inout [UInt8]) {
        out.append(contentsOf: [0x5C, UInt8(ascii: "u"),
                                hexDigits[Int(value >> 12 & 0xF)], hexDigits[Int(value >> 8 & 0xF)],
                                hexDigits[Int(value >> 4 & 0xF)], hexDigits[Int(value & 0xF)]])
    }
}
