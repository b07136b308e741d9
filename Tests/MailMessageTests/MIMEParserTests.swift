import Foundation
import Testing
@testable import MailMessage

@Suite("MIME parser")
struct MIMEParserTests {
    @Test("folded, duplicate and obsolete-syntax headers")
    func headers() throws {
        let m = try parse("""
        Received: from a
        \tby b; Mon, 8 Jan 2024 10:00:00 +0100
        Received: from c by d
        Subject : obsolete
         folded subject
        X-Empty:
        From: a@example.com

        body
        """)
        #expect(m.headers.count(named: "received") == 2)
        #expect(m.headers["Received"] == "from a\tby b; Mon, 8 Jan 2024 10:00:00 +0100")
        #expect(m.headers["SUBJECT"] == "obsolete folded subject")
        #expect(m.headers["X-Empty"] == "")
        #expect(m.root.text() == "body")
    }

    @Test("a line without a colon ends the header block")
    func headerWithoutColon() throws {
        let m = try parse("From: a@example.com\nthis is body text\nmore\n")
        #expect(m.headers.count == 1)
        #expect(m.root.text() == "this is body text\nmore\n")
        #expect(m.defects.contains { $0.kind == .missingHeaderBodySeparator })
    }

    @Test("bare LF and CRLF give the same tree", arguments: [true, false])
    func lineEndings(bareLF: Bool) throws {
        let m = try parse("""
        Content-Type: multipart/alternative; boundary="b1"

        preamble
        --b1
        Content-Type: text/plain; charset=utf-8

        plain
        --b1
        Content-Type: text/html

        <p>html</p>
        --b1--
        epilogue
        """, bareLF: bareLF)
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].text() == "plain")
        #expect(m.root.children[1].text() == "<p>html</p>")
        #expect(m.root.preambleRange.map { String(decoding: m.bytes[$0], as: UTF8.self) } == "preamble")
        #expect(m.root.epilogueRange.map { String(decoding: m.bytes[$0], as: UTF8.self) } == "epilogue")
        #expect(m.bodyPart()?.contentType.subtype == "plain")
    }

    @Test("missing end boundary: the last part runs to the end")
    func missingEndBoundary() throws {
        let m = try parse("""
        Content-Type: multipart/mixed; boundary=XYZ

        --XYZ
        Content-Type: multipart/alternative; boundary=inner

        --inner
        Content-Type: text/plain

        Approve - fine
        --XYZ
        Content-Type: application/pdf; name=a.pdf
        Content-Transfer-Encoding: base64

        JVBERi0=
        """)
        #expect(m.root.children.count == 2)
        #expect(m.root.children[0].children.first?.text() == "Approve - fine")
        #expect(m.root.children[1].isAttachment)
        #expect(m.root.children[1].decodedBody() == Array("%PDF-".utf8))
        #expect(m.defects.contains { $0.kind == .missingEndBoundary })
        #expect(ReplyDecision(message: m).command == .approve)
    }

    @Test("a boundary that is a prefix of a longer line is not a delimiter")
    func boundaryPrefix() throws {
        let m = try parse("""
        Content-Type: multipart/mixed; boundary=abc

        --abc
        Content-Type: text/plain

        --abcdef is text
        --abc--
        """)
        #expect(m.root.children.count == 1)
        #expect(m.root.children[0].text() == "--abcdef is text")
    }

    @Test("message/rfc822 is not entered for the body, but can be parsed on request")
    func embeddedMessage() throws {
        let m = try parse("""
        From: someone@example.com
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: message/rfc822

        From: inner@example.com
        Subject: inner

        Approve - inner
        --b--
        """)
        #expect(m.bodyPart() == nil)
        #expect(ReplyDecision(message: m).noCommandReason == .noBody)
        let inner = try #require(try m.root.children[0].embeddedMessage())
        #expect(inner.subject == "inner")
        #expect(inner.bodyText()?.text == "Approve - inner")
    }

    @Test("attachments are skipped when looking for the body")
    func attachmentSkipped() throws {
        let m = try parse("""
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain; name="notes.txt"
        Content-Disposition: attachment; filename="notes.txt"

        Approve (from an attachment)
        --b
        Content-Type: text/html; charset=utf-8

        <div>Deny: no</div>
        --b--
        """)
        let d = ReplyDecision(message: m)
        #expect(d.command == .deny)
        #expect(d.comment == "no")
    }

    @Test("RFC 2231 parameters: continuations, charsets, language")
    func rfc2231() throws {
        let m = try parse("""
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: application/pdf;
         name*0*=utf-8'de'Angebot_B%C3%BC;
         name*1*=rom%C3%B6bel.pdf
        Content-Disposition: attachment;
        \tfilename*=iso-8859-1''K%F6ln.pdf

        x
        --b
        Content-Type: application/pdf; name="=?utf-8?B?6KaL56mN5pu4LnBkZg==?="

        y
        --b--
        """)
        #expect(m.root.children[0].filename == "Köln.pdf")
        #expect(m.root.children[0].contentType.parameter("name") == "Angebot_Büromöbel.pdf")
        #expect(m.root.children[1].filename == "見積書.pdf")
    }

    @Test("invalid content type falls back to text/plain")
    func invalidContentType() throws {
        let m = try parse("Content-Type: garbage\n\nApproved.\n")
        #expect(m.root.contentType == .textPlain)
        #expect(m.defects.contains { $0.kind == .invalidContentType })
        #expect(ReplyDecision(message: m).command == .approve)
    }

    @Test("multipart/digest parts default to message/rfc822")
    func digest() throws {
        let m = try parse("""
        Content-Type: multipart/digest; boundary=d

        --d

        From: x@example.com

        hello
        --d--
        """)
        #expect(m.root.children.first?.contentType == .messageRFC822)
    }

    @Test("limits: nesting depth, part count, size")
    func limits() throws {
        var nested = ""
        for k in 0..<40 { nested += "Content-Type: multipart/mixed; boundary=b\(k)\n\n--b\(k)\n" }
        nested += "Content-Type: text/plain\n\nApprove\n"
        let m = try MailMessage(parsing: Array(nested.utf8), limits: MailLimits(maxDepth: 10))
        #expect(m.defects.contains { $0.kind == .tooDeep })
        var deepest = m.root
        while let c = deepest.children.first { deepest = c }
        #expect(deepest.depth == 10)

        var many = "Content-Type: multipart/mixed; boundary=b\n\n"
        for _ in 0..<50 { many += "--b\nContent-Type: text/plain\n\nx\n" }
        let m2 = try MailMessage(parsing: Array(many.utf8), limits: MailLimits(maxParts: 20))
        #expect(m2.allParts.count <= 20)
        #expect(m2.defects.contains { $0.kind == .tooManyParts })

        #expect(throws: MailParseError.self) { try MailMessage(parsing: [UInt8](repeating: 65, count: 100), limits: MailLimits(maxMessageBytes: 50)) }
        #expect(throws: MailParseError.self) { try MailMessage(parsing: [UInt8]()) }

        var headers = ""
        for k in 0..<50 { headers += "X-H\(k): v\n" }
        let m3 = try MailMessage(parsing: Array((headers + "\nbody").utf8), limits: MailLimits(maxHeaderFields: 10))
        #expect(m3.headers.count == 10)
        #expect(m3.root.text() == "body")
    }

    @Test("an mbox From_ line before the headers is skipped")
    func mboxFromLine() throws {
        let m = try parse("From alice@example.com Mon Jan  8 10:00:00 2024\nSubject: hi\n\nbody")
        #expect(m.subject == "hi")
    }
}

@Suite("Transfer encodings")
struct TransferEncodingTests {
    @Test("quoted-printable: soft breaks, lowercase hex, malformed escapes kept")
    func qp() {
        let input = "caf=C3=A9 =\r\nsoft=  \nbroken =ZZ and =4 end=3d\n"
        let out = String(decoding: TransferEncoding.decodeQuotedPrintable(Array(input.utf8)[...]), as: UTF8.self)
        #expect(out == "café softbroken =ZZ and =4 end=\n")
    }

    @Test("base64: whitespace, garbage, missing padding, concatenated blocks")
    func base64() {
        #expect(TransferEncoding.decodeBase64(Array("SGVs\r\nbG8=".utf8)[...]) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array("SGVsbG8".utf8)[...]) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array("SG!!Vs*bG8=\u{0}".utf8)[...]) == Array("Hello".utf8))
        #expect(TransferEncoding.decodeBase64(Array("SGk=SGk=".utf8)[...]) == Array("HiHi".utf8))
    }

    @Test("quoted-printable encoding round-trips and keeps lines within 76 characters", arguments: [
        "short", "trailing space ", "tab\tend\t", "=equals=", "From the start", ".", "ümlaut " + String(repeating: "é", count: 80),
        String(repeating: "x", count: 300), "line1\nline2\n\nline4",
        // A soft break must not leave "From " or "." at the start of a line.
        String(repeating: "a", count: 75) + "From here", String(repeating: "a", count: 75) + ".", "\nFrom \n.\n",
    ])
    func qpRoundTrip(text: String) {
        let enc = TransferEncoding.encodeQuotedPrintable(text)
        for line in enc.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 76) }
        #expect(!enc.components(separatedBy: "\r\n").contains { $0.hasPrefix("From ") || $0 == "." })
        let dec = String(decoding: TransferEncoding.decodeQuotedPrintable(Array(enc.utf8)[...]), as: UTF8.self)
        #expect(dec.replacingOccurrences(of: "\r\n", with: "\n") == text)
    }

    @Test("format=flowed is unflowed; quoted lines keep their depth; signature stays fixed")
    func flowed() throws {
        let m = try parse("Content-Type: text/plain; format=flowed; delsp=no\n\nApprove - this is a \nwrapped comment\n\n-- \nsig\n>> quoted \n>> more\n From me\n")
        #expect(m.bodyText()?.text == "Approve - this is a wrapped comment\n\n-- \nsig\n>> quoted more\nFrom me\n")
        let d = ReplyDecision(message: m)
        #expect(d.comment == "this is a wrapped comment")
    }

    @Test("format=flowed with DelSp=yes removes the space")
    func flowedDelSp() throws {
        let m = try parse("Content-Type: text/plain; format=flowed; delsp=yes\n\n承認 \nします\n")
        #expect(m.bodyText()?.text == "承認します\n")
    }
}

@Suite("RFC 2047 encoded words")
struct EncodedWordTests {
    @Test("decoding", arguments: [
        ("=?utf-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@x>", "Jürgen Müller <j@x>"),
        ("=?iso-8859-1?q?J=FCrgen_M=FCller?=", "Jürgen Müller"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),                                 // adjacent: whitespace dropped
        ("=?utf-8?q?a?= plain =?utf-8?q?b?=", "a plain b"),
        ("=?UTF-8?B?5bGx55Sw?=\r\n =?UTF-8?B?IOWkqumDjg==?=", "山田 太郎"),
        ("=?utf-8?b?5bGx?= =?utf-8?b?55Sw?=", "山田"),
        ("=?utf-8?b?5Q==?= =?utf-8?b?sbE=?=", "山"),                              // a character split across words
        ("=?iso-2022-jp?B?GyRCOzNFRBsoQg==?=", "山田"),
        ("=?x-unknown-cs?q?caf=C3=A9?=", "café"),                            // unknown charset, UTF-8 bytes
        ("=?utf-8*en?q?hello?=", "hello"),                                   // RFC 2231 language
        ("=?utf-8?x?bad?= and =?broken", "=?utf-8?x?bad?= and =?broken"),
        ("prefix=?utf-8?q?glued?=suffix", "prefixgluedsuffix"),
        ("", ""),
    ])
    func decode(input: String, expected: String) {
        let unfolded = input.replacingOccurrences(of: "\r\n", with: "")
        #expect(EncodedWord.decode(unfolded) == expected)
    }

    @Test("encoding round-trips and keeps each word within 75 characters", arguments: [
        "Approval request #1234: Zugriff auf Produktionsdatenbank für Jürgen Müller",
        "出張申請：大阪 (2泊3日) 出張申請：大阪 (2泊3日) 出張申請：大阪 (2泊3日)",
        "Cloud budget increase Q3 📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈📈",
        "plain ascii stays", "looks like =?utf-8?q?x?= an encoded word",
    ])
    func encode(text: String) {
        let enc = EncodedWord.encodeIfNeeded(text)
        for w in enc.components(separatedBy: "\r\n ") { #expect(w.utf8.count <= 75 || !w.hasPrefix("=?")) }
        #expect(EncodedWord.decode(enc.replacingOccurrences(of: "\r\n", with: "")) == text)
    }
}
