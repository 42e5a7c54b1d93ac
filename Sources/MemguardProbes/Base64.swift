import MemguardCore

/// Decodes the embedded probe object (standard alphabet, with padding).
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(c)] = UInt8(i)
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            let v = table[Int(c)]
            if v == 0xFF { return nil }
            buffer = (buffer << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}

public enum EmbeddedProbes {
    /// The compiled kernel programs (bpf/memguard.bpf.c), as built into this binary.
    public static func object() throws -> [UInt8] {
        guard let bytes = Base64.decode(ProbeObject.base64), !bytes.isEmpty else {
            throw MemguardError("the probe object embedded in this binary is corrupt; rebuild memguard")
        }
        return bytes
    }
}
