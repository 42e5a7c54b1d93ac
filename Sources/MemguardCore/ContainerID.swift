/// A container id as the runtime gave it (hostile: it comes from whoever created the
/// container) and the file name derived from it, which can never leave its directory.
public struct ContainerID: Sendable, Hashable, CustomStringConvertible {
    public let raw: String
    public let fileName: String

    public static let maxLength = 1024

    public init(_ raw: String) throws {
        guard !raw.isEmpty else { throw MemguardError("container id is empty") }
        guard raw.utf8.count <= Self.maxLength else {
            throw MemguardError("container id is \(raw.utf8.count) bytes long (at most \(Self.maxLength))")
        }
        guard !raw.utf8.contains(0) else { throw MemguardError("container id contains a NUL byte") }
        self.raw = raw
        self.fileName = Self.fileName(for: raw)
    }

    /// Letters, digits, '_', '-' and (not first) '.' stay; every other byte becomes %XX.
    /// The mapping is one-to-one, so two ids never share a file. Long names are cut and
    /// suffixed with a hash of the whole id.
    static func fileName(for raw: String) -> String {
        var out = ""
        for (index, byte) in raw.utf8.enumerated() {
            let isSafe = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || (byte == 0x2E && index > 0)
            if isSafe {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + hex(byte)
            }
        }
        if out.utf8.count > 200 {
            out = String(out.prefix(180)) + "~" + fnv1a(raw)
        }
        return out
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    private static func fnv1a(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let s = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// The id for messages: as given when printable, else JSON-escaped and quoted, so an id
    /// with a newline cannot forge lines on stderr.
    public var description: String {
        if raw.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) { return raw }
        var line = JSONLine()
        line.add("id", raw)
        return String(line.rendered.dropFirst(6).dropLast())
    }
}
