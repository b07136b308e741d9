/// HTML character references: numeric (`&#233;`, `&#xE9;`) and the named entities mail actually
/// contains. Numeric references in 0x80...0x9F are read as Windows-1252, as HTML5 specifies.
enum Entities {
    static let named: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0, "ensp": 0x2002, "emsp": 0x2003,
        "thinsp": 0x2009, "zwnj": 0x200C, "zwj": 0x200D, "lrm": 0x200E, "rlm": 0x200F, "ndash": 0x2013, "mdash": 0x2014,
        "lsquo": 0x2018, "rsquo": 0x2019, "sbquo": 0x201A, "ldquo": 0x201C, "rdquo": 0x201D, "bdquo": 0x201E,
        "dagger": 0x2020, "Dagger": 0x2021, "bull": 0x2022, "hellip": 0x2026, "permil": 0x2030, "prime": 0x2032,
        "lsaquo": 0x2039, "rsaquo": 0x203A, "euro": 0x20AC, "trade": 0x2122, "copy": 0xA9, "reg": 0xAE,
        "iexcl": 0xA1, "cent": 0xA2, "pound": 0xA3, "curren": 0xA4, "yen": 0xA5, "brvbar": 0xA6, "sect": 0xA7,
        "uml": 0xA8, "ordf": 0xAA, "laquo": 0xAB, "not": 0xAC, "shy": 0xAD, "macr": 0xAF, "deg": 0xB0,
        "plusmn": 0xB1, "sup2": 0xB2, "sup3": 0xB3, "acute": 0xB4, "micro": 0xB5, "para": 0xB6, "middot": 0xB7,
        "cedil": 0xB8, "sup1": 0xB9, "ordm": 0xBA, "raquo": 0xBB, "frac14": 0xBC, "frac12": 0xBD, "frac34": 0xBE,
        "iquest": 0xBF, "Agrave": 0xC0, "Aacute": 0xC1, "Acirc": 0xC2, "Atilde": 0xC3, "Auml": 0xC4, "Aring": 0xC5,
        "AElig": 0xC6, "Ccedil": 0xC7, "Egrave": 0xC8, "Eacute": 0xC9, "Ecirc": 0xCA, "Euml": 0xCB, "Igrave": 0xCC,
        "Iacute": 0xCD, "Icirc": 0xCE, "Iuml": 0xCF, "ETH": 0xD0, "Ntilde": 0xD1, "Ograve": 0xD2, "Oacute": 0xD3,
        "Ocirc": 0xD4, "Otilde": 0xD5, "Ouml": 0xD6, "times": 0xD7, "Oslash": 0xD8, "Ugrave": 0xD9, "Uacute": 0xDA,
        "Ucirc": 0xDB, "Uuml": 0xDC, "Yacute": 0xDD, "THORN": 0xDE, "szlig": 0xDF, "agrave": 0xE0, "aacute": 0xE1,
        "acirc": 0xE2, "atilde": 0xE3, "auml": 0xE4, "aring": 0xE5, "aelig": 0xE6, "ccedil": 0xE7, "egrave": 0xE8,
        "eacute": 0xE9, "ecirc": 0xEA, "euml": 0xEB, "igrave": 0xEC, "iacute": 0xED, "icirc": 0xEE, "iuml": 0xEF,
        "eth": 0xF0, "ntilde": 0xF1, "ograve": 0xF2, "oacute": 0xF3, "ocirc": 0xF4, "otilde": 0xF5, "ouml": 0xF6,
        "divide": 0xF7, "oslash": 0xF8, "ugrave": 0xF9, "uacute": 0xFA, "ucirc": 0xFB, "uuml": 0xFC, "yacute": 0xFD,
        "thorn": 0xFE, "yuml": 0xFF, "OElig": 0x152, "oelig": 0x153, "Scaron": 0x160, "scaron": 0x161, "Yuml": 0x178,
        "fnof": 0x192, "circ": 0x2C6, "tilde": 0x2DC, "larr": 0x2190, "uarr": 0x2191, "rarr": 0x2192, "darr": 0x2193,
        "harr": 0x2194, "rArr": 0x21D2, "lArr": 0x21D0, "hArr": 0x21D4, "minus": 0x2212, "le": 0x2264, "ge": 0x2265,
        "ne": 0x2260, "infin": 0x221E, "check": 0x2713, "star": 0x2606, "hearts": 0x2665, "Alpha": 0x391, "Beta": 0x392,
        "alpha": 0x3B1, "beta": 0x3B2, "gamma": 0x3B3, "delta": 0x3B4, "pi": 0x3C0, "sigma": 0x3C3, "mu": 0x3BC,
        "lambda": 0x3BB, "omega": 0x3C9, "Omega": 0x3A9, "loz": 0x25CA, "frasl": 0x2044, "sdot": 0x22C5,
        "NewLine": 0x0A, "Tab": 0x09, "colon": 0x3A, "comma": 0x2C, "period": 0x2E, "semi": 0x3B, "excl": 0x21,
        "quest": 0x3F, "num": 0x23, "dollar": 0x24, "percnt": 0x25, "lpar": 0x28, "rpar": 0x29, "ast": 0x2A,
        "plus": 0x2B, "sol": 0x2F, "bsol": 0x5C, "equals": 0x3D, "lsqb": 0x5B, "rsqb": 0x5D, "lowbar": 0x5F,
        "grave": 0x60, "lcub": 0x7B, "rcub": 0x7D, "verbar": 0x7C, "vert": 0x7C, "Hat": 0x5E, "commat": 0x40,
    ]
    /// Entities that HTML5 also recognises without the trailing semicolon.
    static let legacy: Set<String> = ["amp", "lt", "gt", "quot", "nbsp", "copy", "reg", "AMP", "LT", "GT", "QUOT"]

    /// Decodes a character reference at `i` (which points at `&`). Returns the scalar and the number
    /// of bytes consumed, or length 0 when there is no reference here.
    static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (UInt32, Int) {
        let n = p.count
        var k = i + 1
        guard k < n else { return (0, 0) }
        if p[k] == UInt8(ascii: "#") {
            k += 1
            var hex = false
            if k < n, p[k] == UInt8(ascii: "x") || p[k] == UInt8(ascii: "X") { hex = true; k += 1 }
            let digitsStart = k
            var v: UInt32 = 0
            while k < n, k - digitsStart < 8 {
                if hex, let h = hexValue(p[k]) { v = v &* 16 &+ UInt32(h) } else if !hex, isDigitASCII(p[k]) { v = v &* 10 &+ UInt32(p[k] - 0x30) } else { break }
                k += 1
            }
            guard k > digitsStart else { return (0, 0) }
            while k < n, k - digitsStart < 32, hex ? hexValue(p[k]) != nil : isDigitASCII(p[k]) { k += 1; v = 0x110000 }
            if k < n, p[k] == UInt8(ascii: ";") { k += 1 }
            if v >= 0x80 && v <= 0x9F { v = UInt32(Charset.cp1252High[Int(v - 0x80)]) }
            if v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) { v = 0xFFFD }
            return (v, k - i)
        }
        let start = k
        while k < n, k - start < 32, isAlnumASCII(p[k]) { k += 1 }
        guard k > start else { return (0, 0) }
        let name = String(decoding: UnsafeBufferPointer(rebasing: p[start..<k]), as: UTF8.self)
        if k < n, p[k] == UInt8(ascii: ";"), let v = named[name] ?? named[asciiLowercased(name)].flatMap({ name == name.uppercased() ? $0 : nil }) {
            return (v, k + 1 - i)
        }
        // Legacy references without ';' (longest prefix among the few HTML5 allows).
        for len in stride(from: min(k - start, 6), through: 2, by: -1) {
            let pre = String(decoding: UnsafeBufferPointer(rebasing: p[start..<(start + len)]), as: UTF8.self)
            if legacy.contains(pre), let v = named[pre] ?? named[asciiLowercased(pre)] { return (v, 1 + len) }
        }
        return (0, 0)
    }
}
