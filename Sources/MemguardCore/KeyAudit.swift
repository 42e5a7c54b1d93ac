/// Finds what json-c and Go's encoding/json (runc) would read differently in a config.json,
/// where it matters to memguard. Go matches struct fields by Unicode case folding and merges a
/// repeated object into the same struct or map; json-c looks keys up exactly, keeps the last
/// value of a repeated key and stops a key at a NUL. So `"Annotations"`, `"annotationſ"`, a
/// second `"annotations"`, `"Linux"` after `"linux"`, `"hooKs"` or
/// `"io.memguard.monitor\u0000x"` could make runc see an opt-in, a hook or a seccomp profile
/// that memguard did not. Such a config is refused, not guessed at.
public enum KeyAudit {
    static let watched: Set<String> = ["annotations", "linux", "hooks"]
    /// The fields memguard reads or writes inside the watched structs, spelled as the spec does.
    static let fields: [String: [String]] = [
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "linux": ["seccomp"],
    ]

    /// The key as Go compares it with a struct field's name: ASCII case folded, plus the two
    /// other letters whose simple case folding reaches ASCII, ſ (U+017F) for s and the Kelvin
    /// sign (U+212A) for k.
    static func goFold(_ key: String) -> String {
        var folded = String.UnicodeScalarView()
        for scalar in key.unicodeScalars {
            switch scalar.value {
            case 0x41...0x5A: folded.append(Unicode.Scalar(scalar.value + 0x20)!)
            case 0x17F: folded.append("s")
            case 0x212A: folded.append("k")
            default: folded.append(scalar)
            }
        }
        return String(folded)
    }

    public static func check(_ bytes: [UInt8], what: String) throws {
        var scanner = Scanner(bytes: bytes)
        guard let rootKeys = scanner.objectKeys(collectingInto: watched) else { return } // not an object: json-c reports it
        var seen: [String: String] = [:]
        for key in rootKeys.keys {
            // json-c ends a key at a NUL: "annotations\u0000" would replace memguard's view of
            // "annotations", while Go sees a field that does not exist.
            if key.utf8.contains(0) {
                throw MemguardError("\(what): a top-level key contains a NUL byte; refused as ambiguous")
            }
            let folded = goFold(key)
            guard watched.contains(folded) else { continue }
            if key != folded {
                throw MemguardError("\(what) spells \"\(folded)\" as \"\(key)\"; runc would read it, memguard would not: refused as ambiguous")
            }
            if let earlier = seen[folded] {
                throw MemguardError("\(what) has both \"\(earlier)\" and \"\(key)\" at the top level; runc would merge them, memguard would not: refused as ambiguous")
            }
            seen[folded] = key
        }
        for (name, keys) in rootKeys.nested {
            var inner: [String: String] = [:]
            // Annotations are a map (case matters); linux and hooks are structs (it does not).
            let isMap = goFold(name) == "annotations"
            for key in keys {
                if key.utf8.contains(0) {
                    throw MemguardError("\(what): a key in \"\(name)\" contains a NUL byte; refused as ambiguous")
                }
                let folded = isMap ? key : goFold(key)
                if let field = fields[goFold(name)]?.first(where: { goFold($0) == folded }), key != field {
                    throw MemguardError("\(what) spells \"\(name).\(field)\" as \"\(key)\"; runc would read it, memguard would not: refused as ambiguous")
                }
                if let earlier = inner[folded] {
                    if isMap && !key.hasPrefix(MonitorSettings.prefix) { continue }
                    throw MemguardError("\(what) has both \"\(earlier)\" and \"\(key)\" in \"\(name)\"; refused as ambiguous")
                }
                inner[folded] = key
            }
        }
    }

    /// A minimal JSON reader: only what the audit needs (keys), skipping every value.
    struct Scanner {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        struct RootKeys {
            var keys: [String] = []
            var nested: [(String, [String])] = []
        }

        mutating func objectKeys(collectingInto watched: Set<String>) -> RootKeys? {
            skipSpace()
            guard peek == UInt8(ascii: "{") else { return nil }
            i += 1
            var out = RootKeys()
            while true {
                skipSpace()
                if peek == UInt8(ascii: "}") { return out }
                guard let key = string() else { return out }
                out.keys.append(key)
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return out }
                i += 1
                skipSpace()
                if watched.contains(KeyAudit.goFold(key)), peek == UInt8(ascii: "{") {
                    out.nested.append((key, innerKeys()))
                } else {
                    skipValue(depth: 0)
                }
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1 } else { return out }
            }
        }

        mutating func innerKeys() -> [String] {
            i += 1
            var keys: [String] = []
            while true {
                skipSpace()
                if peek == UInt8(ascii: "}") { i += 1; return keys }
                guard let key = string() else { return keys }
                keys.append(key)
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return keys }
                i += 1
                skipValue(depth: 0)
                skipSpace()
                if peek == UInt8(ascii: ",") { i += 1 } else { skipSpace(); if peek == UInt8(ascii: "}") { i += 1 }; return keys }
            }
        }

        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let b = peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 }
        }

        /// A string token, escapes decoded (\uXXXX included, so "\u0000" is a real NUL).
        mutating func string() -> String? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while let b = peek {
                i += 1
                switch b {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let e = peek else { return nil }
                    i += 1
                    switch e {
                    case UInt8(ascii: "u"):
                        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                        i += 4
                        out += Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    default: out.append(e)
                    }
                default:
                    out.append(b)
                }
            }
            return nil
        }

        /// Skips one value of any depth, without recursion (a hostile file may nest deeply).
        mutating func skipValue(depth _: Int) {
            var depth = 0
            repeat {
                skipSpace()
                guard let c = peek else { return }
                switch c {
                case UInt8(ascii: "\""):
                    if string() == nil { return }
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    i += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return }
                    depth -= 1
                    i += 1
                case UInt8(ascii: ","), UInt8(ascii: ":"):
                    if depth == 0 { return }
                    i += 1
                default:
                    let start = i
                    while let b = peek, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09].contains(b) { i += 1 }
                    if i == start { i += 1 }
                }
            } while depth > 0
        }
    }
}
