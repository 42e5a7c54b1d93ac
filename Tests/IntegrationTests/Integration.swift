import Testing

/// Root-only tests on real runc containers and real kernel programs. Serialized: kernel
/// objects are global, and each test checks that none of memguard's is left afterwards.
@Suite("Integration: real runc, real kernel programs", .serialized)
struct Integration {}
