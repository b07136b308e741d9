#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Charset decoding to UTF-8 for the charsets mail really uses.
///
/// UTF-8, US-ASCII, ISO-8859-1, Windows-1252 and ISO-8859-15 are decoded here by table; everything
/// else (ISO-8859-2, Windows-1250, KOI8-R, ISO-2022-JP, Shift_JIS, EUC-JP, GB2312/GBK/GB18030, Big5,
/// and any other name the C library's iconv knows) goes through iconv. Decoding never fails:
/// undecodable bytes become U+FFFD, and an unknown charset is read as UTF-8 when the bytes are valid
/// UTF-8, else as Windows-1252.
public enum Charset {
    /// Decodes `bytes` in `charset` (a MIME charset name; nil means US-ASCII) to a String.
    public static func decode(_ bytes: some Collection<UInt8>, charset: String?) -> String {
        String(decoding: decodeToUTF8(Array(bytes), charset: charset).bytes, as: UTF8.self)
    }

    /// The result of decoding to UTF-8 bytes.
    struct Decoded {
        var bytes: [UInt8]
        var unknownCharset = false
        var invalidBytes = false
    }

    enum Kind {
        case utf8, latin1, cp1252, latin9, iconv([String]), utf16Auto
    }

    /// Maps a MIME charset label to how it is decoded.
    static func kind(of label: String?) -> Kind? {
        guard let label else { return .utf8 }
        var name = asciiLowercased(label)
        name = String(name.filter { $0 != "\"" && $0 != "'" && $0 != " " })
        switch name {
        case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "x-unknown",
             "unknown-8bit", "unknown", "default", "x-user-defined", "cp65001":
            return .utf8
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "iso-ir-100", "cp819", "ibm819", "8859-1", "iso8859_1":
            // Mail labelled Latin-1 is in practice often Windows-1252 (smart quotes, euro sign); the
            // C1 range is decoded as Windows-1252, as every browser and most mail clients do.
            return .cp1252
        case "windows-1252", "cp1252", "x-cp1252", "cp-1252", "win-1252", "ms-ansi":
            return .cp1252
        case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin-9", "latin9", "l9":
            return .latin9
        case "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis":
            return .iconv(["SHIFT_JIS", "CP932"])
        case "cp932", "windows-31j", "ms932":
            return .iconv(["CP932"])
        case "iso-2022-jp", "csiso2022jp", "iso2022jp":
            return .iconv(["ISO-2022-JP", "ISO-2022-JP-3", "CP50221"])
        case "euc-jp", "x-euc-jp", "eucjp":
            return .iconv(["EUC-JP", "EUC-JP-MS"])
        case "gb2312", "gbk", "gb18030", "cp936", "x-gbk", "euc-cn", "csgb2312", "chinese":
            return .iconv(["GB18030"])
        case "big5", "x-big5", "cn-big5", "csbig5", "big5-hkscs":
            return .iconv(["BIG5-HKSCS", "BIG5"])
        case "ks_c_5601-1987", "euc-kr", "ks_c_5601", "korean", "cp949":
            return .iconv(["CP949", "EUC-KR"])
        case "utf-16", "utf16":
            return .utf16Auto
        default:
            return .iconv([name.uppercased()])
        }
    }

    /// Decodes to UTF-8 bytes. Line endings are preserved.
    static func decodeToUTF8(_ bytes: [UInt8], charset: String?) -> Decoded {
        let k = kind(of: charset) ?? .utf8
        switch k {
        case .utf8:
            return utf8Lenient(bytes)
        case .latin1, .cp1252:
            return singleByte(bytes, table: cp1252High, latin9: false)
        case .latin9:
            return singleByte(bytes, table: nil, latin9: true)
        case .utf16Auto:
            let r = viaIconv(bytes, names: ["UTF-16"])
            return r ?? Decoded(bytes: utf8Lenient(bytes).bytes, unknownCharset: true)
        case .iconv(let names):
            if isPlainASCII(bytes), !names.contains(where: { $0.hasPrefix("UTF-7") || $0.hasPrefix("UTF-16") || $0.hasPrefix("UTF-32") || $0.hasPrefix("ISO-2022") }) {
                return Decoded(bytes: bytes)
            }
            if let r = viaIconv(bytes, names: names) { return r }
            // Unknown to iconv: UTF-8 if valid, else Windows-1252.
            var d = utf8Valid(bytes) ? Decoded(bytes: bytes) : singleByte(bytes, table: cp1252High, latin9: false)
            d.unknownCharset = true
            return d
        }
    }

    static func isPlainASCII(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            let n = p.count
            // 8 bytes at a time.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p.baseAddress! + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { return false }
                i += 8
            }
            while i < n { if p[i] >= 0x80 { return false }; i += 1 }
            return true
        }
    }

    static func utf8Valid(_ bytes: [UInt8]) -> Bool {
        if isPlainASCII(bytes) { return true }
        var it = bytes.makeIterator()
        var dec = UTF8()
        while true {
            switch dec.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// UTF-8 with invalid sequences replaced by U+FFFD.
    static func utf8Lenient(_ bytes: [UInt8]) -> Decoded {
        if utf8Valid(bytes) { return Decoded(bytes: bytes) }
        let s = String(decoding: bytes, as: UTF8.self)
        return Decoded(bytes: Array(s.utf8), invalidBytes: true)
    }

    /// Header bytes: UTF-8 when valid (RFC 6532), else Windows-1252.
    static func decodeHeaderBytes(_ bytes: [UInt8]) -> String {
        if utf8Valid(bytes) { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: singleByte(bytes, table: cp1252High, latin9: false).bytes, as: UTF8.self)
    }

    /// Windows-1252 0x80...0x9F (0 = undefined, decoded as the C1 control like browsers do).
    static let cp1252High: [UInt16] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]

    static func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
        switch cp {
        case 0..<0x80: out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (cp >> 6))); out.append(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (cp >> 12))); out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (cp >> 18))); out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F))); out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }

    static func singleByte(_ bytes: [UInt8], table: [UInt16]?, latin9: Bool) -> Decoded {
        if isPlainASCII(bytes) { return Decoded(bytes: bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 4)
        for b in bytes {
            if b < 0x80 { out.append(b); continue }
            var cp = UInt32(b)
            if let table, b < 0xA0 { cp = UInt32(table[Int(b - 0x80)]) }
            if latin9 {
                switch b {
                case 0xA4: cp = 0x20AC
                case 0xA6: cp = 0x0160
                case 0xA8: cp = 0x0161
                case 0xB4: cp = 0x017D
                case 0xB8: cp = 0x017E
                case 0xBC: cp = 0x0152
                case 0xBD: cp = 0x0153
                case 0xBE: cp = 0x0178
                default: break
                }
            }
            appendUTF8(cp, to: &out)
        }
        return Decoded(bytes: out)
    }

    /// Decodes with the first iconv name that opens and decodes without errors; when every name has
    /// errors, the first one that opened is used with U+FFFD for bad bytes. Nil when none opens.
    static func viaIconv(_ bytes: [UInt8], names: [String]) -> Decoded? {
        var firstLenient: Decoded?
        for name in names {
            guard let r = iconvDecode(bytes, from: name) else { continue }
            if !r.invalidBytes { return r }
            if firstLenient == nil { firstLenient = r }
        }
        return firstLenient
    }

    static func iconvDecode(_ input: [UInt8], from name: String) -> Decoded? {
        let cd = iconv_open("UTF-8", name)
        if cd == iconv_t(bitPattern: -1) { return nil }
        defer { iconv_close(cd) }
        var out = [UInt8](repeating: 0, count: input.count * 3 + 16)
        var invalid = false
        var produced = 0
        var input = input
        input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                var inPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuf.baseAddress)?.assumingMemoryBound(to: CChar.self)
                var inLeft = inBuf.count
                var outPtr: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuf.baseAddress)?.assumingMemoryBound(to: CChar.self)
                var outLeft = outBuf.count
                while inLeft > 0 {
                    let r = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    if r != -1 { break }
                    let err = errno
                    if err == EILSEQ || err == EINVAL {
                        invalid = true
                        // Replace one byte with U+FFFD and resynchronise.
                        if outLeft < 3 { break }
                        for b: UInt8 in [0xEF, 0xBF, 0xBD] {
                            outPtr!.pointee = CChar(bitPattern: b)
                            outPtr = outPtr! + 1
                        }
                        outLeft -= 3
                        inPtr = inPtr! + 1
                        inLeft -= 1
                        if err == EINVAL { // truncated sequence at the end
                            continue
                        }
                    } else {
                        break // E2BIG cannot happen with 3x + 16; anything else: stop.
                    }
                }
                // Flush shift state (ISO-2022).
                _ = iconv(cd, nil, nil, &outPtr, &outLeft)
                produced = outBuf.count - outLeft
            }
        }
        out.removeSubrange(produced...)
        return Decoded(bytes: out, invalidBytes: invalid)
    }
}
