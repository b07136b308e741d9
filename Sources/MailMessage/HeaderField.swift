/// One header field of a message or MIME part, exactly as it appeared (RFC 5322 section 2.2).
///
/// The raw value is kept as bytes (folded, undecoded); `value` and `decodedValue` unfold and decode
/// on demand, so parsing a message costs nothing for headers nobody reads.
public struct HeaderField: Sendable, Hashable {
    /// The field name as written (case preserved, surrounding whitespace removed).
    public let name: String
    /// The raw value bytes after the colon, including folding line breaks.
    public let rawValue: ArraySlice<UInt8>

    /// Creates a field from a name and raw (possibly folded) value bytes.
    public init(name: String, rawValue: ArraySlice<UInt8>) {
        self.name = name
        self.rawValue = rawValue
    }

    /// The unfolded value with surrounding whitespace trimmed; 8-bit bytes are read as UTF-8, or as
    /// Windows-1252 when they are not valid UTF-8. Encoded words are left as they are.
    public var value: String {
        Charset.decodeHeaderBytes(HeaderField.unfold(rawValue))
    }

    /// The unfolded value with RFC 2047 encoded words decoded (for unstructured fields such as
    /// `Subject`). Do not use this for address fields: decode addresses with `AddressParser`.
    public var decodedValue: String {
        EncodedWord.decode(HeaderField.unfold(rawValue))
    }

    /// True when the field name equals `other`, ignoring ASCII case.
    public func hasName(_ other: String) -> Bool {
        HeaderField.namesEqual(name, other)
    }

    static func namesEqual(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        for (p, q) in zip(x, y) where asciiLower(p) != asciiLower(q) { return false }
        return true
    }

    /// Removes folding (CR and LF) and trims surrounding whitespace.
    static func unfold(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        for b in raw where b != cr && b != lf { out.append(b) }
        var lo = 0, hi = out.count
        while lo < hi, isWSP(out[lo]) { lo += 1 }
        while hi > lo, isWSP(out[hi - 1]) { hi -= 1 }
        if lo == 0 && hi == out.count { return out }
        return Array(out[lo..<hi])
    }
}

/// The ordered header fields of a message or part. Duplicates are kept in order.
public struct HeaderFields: Sendable, Hashable, RandomAccessCollection {
    /// All fields, in the order they appeared.
    public let fields: [HeaderField]

    /// Creates a collection from fields in order.
    public init(_ fields: [HeaderField]) { self.fields = fields }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> HeaderField { fields[position] }

    /// The first field with this name (ASCII case-insensitive).
    public func first(named name: String) -> HeaderField? {
        fields.first { $0.hasName(name) }
    }

    /// All fields with this name, in order.
    public func all(named name: String) -> [HeaderField] {
        fields.filter { $0.hasName(name) }
    }

    /// The number of fields with this name.
    public func count(named name: String) -> Int {
        var n = 0
        for f in fields where f.hasName(name) { n += 1 }
        return n
    }

    /// The unfolded (not RFC 2047-decoded) value of the first field with this name.
    public subscript(name: String) -> String? { first(named: name)?.value }

    /// True when at least one field has this name.
    public func contains(_ name: String) -> Bool { first(named: name) != nil }
}
