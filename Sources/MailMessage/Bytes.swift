// Small byte-level helpers shared by the parsers. Everything here works on UTF-8 / ASCII bytes and
// allocates nothing unless it returns an array.

@usableFromInline let cr: UInt8 = 0x0D
@usableFromInline let lf: UInt8 = 0x0A
@usableFromInline let space: UInt8 = 0x20
@usableFromInline let tab: UInt8 = 0x09

@inlinable func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }

@inlinable func asciiLower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

@inlinable func isAlnumASCII(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
}

@inlinable func isDigitASCII(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

@inlinable func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}

extension Collection where Element == UInt8 {
    /// ASCII case-insensitive comparison with a lowercase ASCII literal.
    @inlinable func equalsLowercaseASCII(_ lower: StaticString) -> Bool {
        guard count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { lb in
            var i = 0
            for b in self {
                if asciiLower(b) != lb[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// ASCII case-insensitive prefix test against a lowercase ASCII literal.
    @inlinable func hasLowercaseASCIIPrefix(_ lower: StaticString) -> Bool {
        lower.withUTF8Buffer { lb in
            guard count >= lb.count else { return false }
            var it = makeIterator()
            for i in 0..<lb.count {
                guard let b = it.next(), asciiLower(b) == lb[i] else { return false }
            }
            return true
        }
    }
}

/// Lowercases ASCII letters of a string (leaves other characters alone).
func asciiLowercased(_ s: String) -> String {
    var bytes = Array(s.utf8)
    for i in bytes.indices { bytes[i] = asciiLower(bytes[i]) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Trims ASCII whitespace (space, tab, CR, LF) from both ends of a byte slice.
@inlinable func trimASCIIWhitespace(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var lo = s.startIndex, hi = s.endIndex
    while lo < hi, s[lo] == space || s[lo] == tab || s[lo] == cr || s[lo] == lf { lo += 1 }
    while hi > lo, s[hi - 1] == space || s[hi - 1] == tab || s[hi - 1] == cr || s[hi - 1] == lf { hi -= 1 }
    return s[lo..<hi]
}

/// Finds `needle` in `hay[from..<to]` (`memchr` for the first byte, then `memcmp`).
func findBytes(_ hay: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
    guard needle.count > 0, from >= 0, to <= hay.count, to - from >= needle.count,
          let base = hay.baseAddress, let nb = needle.baseAddress else { return nil }
    let first = nb[0]
    var pos = from
    let last = to - needle.count
    while pos <= last {
        guard let p = memchr(base + pos, Int32(first), last - pos + 1) else { return nil }
        let at = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
        if memcmp(base + at, nb, needle.count) == 0 { return at }
        pos = at + 1
    }
    return nil
}

/// Finds a byte in `hay[from..<to]` using the C library's `memchr`.
@inline(__always) func findByte(_ hay: UnsafeBufferPointer<UInt8>, _ byte: UInt8, from: Int, to: Int) -> Int? {
    guard from < to, let base = hay.baseAddress else { return nil }
    guard let p = memchr(base + from, Int32(byte), to - from) else { return nil }
    return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
