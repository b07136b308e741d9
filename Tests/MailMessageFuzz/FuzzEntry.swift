// libFuzzer entry for the MailMessage module (TEST-1). Not a SwiftPM target: `scripts/fuzz-mime`
// compiles it together with Sources/MailMessage/*.swift using `swiftc -sanitize=fuzzer`.
//
// Every input is run through the MIME parser (all parts decoded), the header decoders, the address
// parser and sender check, HTML-to-text, the reply extractor and the command grammar. A crash, a
// trap or a timeout is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? MailMessage(parsing: bytes, limits: MailLimits(maxMessageBytes: 1 << 20, maxParts: 100, maxDepth: 16)) {
        _ = ReplyDecision(message: message)
        _ = SenderVerification.authenticatedAuthor(of: message)
        _ = AutomatedMail.classify(message)
        for part in message.allParts {
            _ = part.text()
            _ = part.filename
            _ = part.isAttachment
            _ = try? part.embeddedMessage()
        }
        for field in message.headers {
            _ = field.decodedValue
            _ = try? AddressParser.parseList(field.value)
        }
        _ = message.bodyText()?.plainText()
    }
    let text = String(decoding: bytes, as: UTF8.self)
    _ = HTMLToText.convert(bytes)
    _ = ReplyExtractor.extract(utf8: bytes)
    _ = CommandGrammar.decide(utf8: bytes)
    _ = EncodedWord.decode(text)
    _ = try? AddressParser.parseList(text)
    _ = FormatFlowed.unflow(bytes, delSp: size % 2 == 0)
    _ = TransferEncoding.decodeQuotedPrintable(bytes[...])
    _ = TransferEncoding.decodeBase64(bytes[...])
    return 0
}
