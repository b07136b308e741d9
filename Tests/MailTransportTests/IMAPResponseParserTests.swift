import Testing
@testable import MailTransport

/// Pure tests of the IMAP response framer and parser (no server).
@Suite("IMAP response parser")
struct IMAPResponseParserTests {
    private func parse(_ text: String) throws -> IMAPResponse {
        try IMAPResponseParser.parse(Array(text.utf8))
    }

    @Test("tagged OK, NO and BAD keep the response code and text")
    func taggedStatuses() throws {
        #expect(try parse("G1 OK [READ-WRITE] Select completed.\r\n")
            == .tagged(tag: "G1", IMAPStatusResponse(status: .ok, code: IMAPResponseCode(name: "READ-WRITE", argument: ""), text: "Select completed.")))
        guard case .tagged(_, let no) = try parse("A002 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n") else {
            Issue.record("not tagged"); return
        }
        #expect(no.status == .no)
        #expect(no.code?.name == "AUTHENTICATIONFAILED")
        #expect(no.displayText == "[AUTHENTICATIONFAILED] Authentication failed.")
        guard case .tagged(_, let bad) = try parse("G9 BAD Error in IMAP command UID: Invalid arguments\r\n") else {
            Issue.record("not tagged"); return
        }
        #expect(bad.status == .bad && bad.code == nil && bad.text == "Error in IMAP command UID: Invalid arguments")
    }

    @Test("untagged status with UIDVALIDITY, UIDNEXT and PERMANENTFLAGS codes")
    func untaggedCodes() throws {
        guard case .untagged(.status(let s)) = try parse("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n") else {
            Issue.record("wrong shape"); return
        }
        #expect(s.code?.name == "UIDVALIDITY" && s.code?.number == 3857529045)
        guard case .untagged(.status(let p)) = try parse("* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags permitted.\r\n") else {
            Issue.record("wrong shape"); return
        }
        #expect(p.code?.argument == "(\\Answered \\Seen \\*)")
        #expect(try parse("* BYE Server shutting down.\r\n") == .untagged(.status(IMAPStatusResponse(status: .bye, code: nil, text: "Server shutting down."))))
    }

    @Test("counts, flags, capabilities and search results")
    func simpleUntagged() throws {
        #expect(try parse("* 23 EXISTS\r\n") == .untagged(.exists(23)))
        #expect(try parse("* 0 RECENT\r\n") == .untagged(.recent(0)))
        #expect(try parse("* 4 EXPUNGE\r\n") == .untagged(.expunge(4)))
        #expect(try parse("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
            == .untagged(.flags(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"])))
        #expect(try parse("* CAPABILITY IMAP4rev1 IDLE move UIDPLUS\r\n") == .untagged(.capability(["IMAP4REV1", "IDLE", "MOVE", "UIDPLUS"])))
        #expect(try parse("* SEARCH 2 84 882\r\n") == .untagged(.search([2, 84, 882])))
        #expect(try parse("* SEARCH\r\n") == .untagged(.search([])))
        #expect(try parse("* SEARCH 1 5 (MODSEQ 917162500)\r\n") == .untagged(.search([1, 5])))
        #expect(try parse("+ idling\r\n") == .continuation("idling"))
    }

    @Test("FETCH with a literal body keeps the exact bytes, including CRLF, parentheses and braces")
    func fetchLiteral() throws {
        let body = "Subject: (x) {3}\r\n\r\n\"quoted\" \\ back\r\n.\r\n"
        let bytes = Array(body.utf8)
        let text = "* 12 FETCH (UID 7 RFC822.SIZE \(bytes.count) FLAGS (\\Recent) BODY[] {\(bytes.count)}\r\n\(body))\r\n"
        guard case .untagged(.fetch(let f)) = try parse(text) else { Issue.record("not a FETCH"); return }
        #expect(f.sequenceNumber == 12)
        #expect(f.uid == 7)
        #expect(f.size == bytes.count)
        #expect(f.flags == ["\\Recent"])
        #expect(f.body() == bytes)
    }

    @Test("FETCH item names with sections, partial origins, NIL and quoted escapes")
    func fetchSections() throws {
        let text = "* 1 FETCH (UID 3 BODY[HEADER.FIELDS (FROM SUBJECT)] {13}\r\nFrom: a@b\r\n\r\n X-Q \"a \\\"b\\\" \\\\c\" X-N NIL BODY[]<0> {2}\r\nhi)\r\n"
        guard case .untagged(.fetch(let f)) = try parse(text) else { Issue.record("not a FETCH"); return }
        #expect(f.body(section: "HEADER.FIELDS (FROM SUBJECT)") == Array("From: a@b\r\n\r\n".utf8))
        #expect(f.items["X-Q"] == .string(Array("a \"b\" \\c".utf8)))
        #expect(f.items["X-N"] == .null)
        #expect(f.items["BODY[]<0>"] == .string(Array("hi".utf8)))
    }

    @Test("BODY.PEEK[] in an answer is normalised to BODY[]")
    func peekNormalised() throws {
        guard case .untagged(.fetch(let f)) = try parse("* 1 FETCH (UID 1 BODY.PEEK[] {1}\r\nx)\r\n") else {
            Issue.record("not a FETCH"); return
        }
        #expect(f.body() == [UInt8(ascii: "x")])
    }

    @Test("LIST and STATUS responses, including a literal mailbox name")
    func listAndStatus() throws {
        #expect(try parse("* LIST (\\HasNoChildren) \"/\" Processed\r\n") == .untagged(.list(attributes: ["\\HasNoChildren"], delimiter: "/", name: Array("Processed".utf8))))
        #expect(try parse("* LIST () \"/\" {7}\r\nA \"b\" c\r\n") == .untagged(.list(attributes: [], delimiter: "/", name: Array("A \"b\" c".utf8))))
        #expect(try parse("* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1700000000)\r\n")
            == .untagged(.mailboxStatus(name: Array("INBOX".utf8), items: ["MESSAGES": 3, "UIDNEXT": 4, "UIDVALIDITY": 1700000000])))
    }

    @Test("malformed responses throw instead of trapping", arguments: [
        "", "G1\r\n", "G1 MAYBE done\r\n", "* 1 FETCH (UID 1 BODY[] {10}\r\nshort)\r\n", "* 1 FETCH (UID \"open\r\n",
        "* 1 FETCH (UID 1\r\n", "* 1 FETCH UID\r\n", "* 1 FETCH (UID)\r\n", "* SEARCH 1 x\r\n", "* OK [UIDVALIDITY 1\r\n",
        "* 1 FETCH (X \"bad \\q escape\")\r\n", "* 1 FETCH (X {99999999999999}\r\n)\r\n",
    ])
    func malformed(_ text: String) {
        #expect(throws: IMAPParseError.self) { try IMAPResponseParser.parse(Array(text.utf8)) }
    }

    @Test("deeply nested lists are rejected")
    func deepNesting() {
        let text = "* 1 FETCH (X " + String(repeating: "(", count: 500) + String(repeating: ")", count: 500) + ")\r\n"
        #expect(throws: IMAPParseError.self) { try IMAPResponseParser.parse(Array(text.utf8)) }
    }

    @Test("the framer reassembles responses split at every possible byte")
    func framerEveryBoundary() throws {
        let stream = Array("* 3 EXISTS\r\n* 1 FETCH (UID 5 BODY[] {14}\r\nab\r\ncd {2}\r\nef)\r\nG4 OK done\r\n".utf8)
        for cut in 0...stream.count {
            var framer = IMAPResponseFramer()
            var out: [[UInt8]] = []
            framer.append(Array(stream[0..<cut]))
            while let r = try framer.next() { out.append(r) }
            framer.append(Array(stream[cut...]))
            while let r = try framer.next() { out.append(r) }
            #expect(out.count == 3, "cut at \(cut)")
            #expect(out.joined().elementsEqual(stream), "cut at \(cut)")
            #expect(framer.bufferedCount == 0)
        }
        // byte by byte
        var framer = IMAPResponseFramer()
        var responses: [IMAPResponse] = []
        for byte in stream {
            framer.append([byte])
            while let r = try framer.next() { responses.append(try IMAPResponseParser.parse(r)) }
        }
        guard responses.count == 3, case .untagged(.fetch(let f)) = responses[1] else {
            Issue.record("expected 3 responses, got \(responses)"); return
        }
        #expect(f.body() == Array("ab\r\ncd {2}\r\nef".utf8))
    }

    @Test("the framer refuses a literal above its limit")
    func framerLimit() {
        var framer = IMAPResponseFramer(maximumLiteral: 100)
        framer.append(Array("* 1 FETCH (BODY[] {101}\r\n".utf8))
        #expect(throws: IMAPParseError.self) { _ = try framer.next() }
    }

    @Test("modified UTF-7 mailbox names round-trip")
    func modifiedUTF7() {
        #expect(ModifiedUTF7.encode("Processed") == "Processed")
        #expect(ModifiedUTF7.encode("Entwürfe") == "Entw&APw-rfe")
        #expect(ModifiedUTF7.encode("A&B") == "A&-B")
        #expect(ModifiedUTF7.encode("日本語") == "&ZeVnLIqe-")
        for name in ["Entwürfe", "A&B", "日本語", "Ünïcödé/Sub", "😀 mail"] {
            #expect(ModifiedUTF7.decode(Array(ModifiedUTF7.encode(name).utf8)) == name)
        }
    }

    @Test("UID sets are compacted and arguments quoted safely")
    func syntax() throws {
        #expect(IMAPSyntax.uidSet([9, 1, 2, 3, 7, 10, 3]) == "1:3,7,9:10")
        #expect(try IMAPSyntax.quoted("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"")
        #expect(throws: MailTransportError.self) { try IMAPSyntax.quoted("x\r\nG2 DELETE INBOX") }
        #expect(throws: MailTransportError.self) { try IMAPSyntax.flag("\\Seen) (\\Deleted") }
        #expect(try IMAPSyntax.flag("\\Seen") == "\\Seen")
        #expect(try IMAPSearchCriteria.header("Delivered-To", contains: "gateway+tok").text == "HEADER Delivered-To \"gateway+tok\"")
        #expect(throws: MailTransportError.self) { try IMAPSearchCriteria.header("X: y", contains: "v") }
    }
}
