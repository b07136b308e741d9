/// The vocabulary that mail clients write around quoted text, in many languages: attribution verbs,
/// header-block labels, forwarded/original-message banners and mobile signatures. All entries are
/// lowercase; matching lowercases ASCII letters of the line and compares other bytes exactly (entries
/// with non-ASCII capitals are listed in both forms).
enum ReplyMarkers {
    static func bytes(_ list: [String]) -> [[UInt8]] { list.map { Array($0.utf8) } }

    /// Words that open an attribution line in the reference grammar (`On|Am|Le|El|Il|Op|Em`).
    static let referenceIntro = bytes(["on", "am", "le", "el", "il", "op", "em"])

    /// Attribution verbs of the reference grammar.
    static let referenceVerbs = bytes(["wrote", "schrieb", "a écrit", "escribió", "ha scritto", "schreef", "escreveu"])

    /// Attribution verbs in other languages and forms.
    static let verbs = bytes([
        "wrote", "writes", "schrieb", "a écrit", "escribió", "escribio", "ha scritto", "schreef", "escreveu",
        "skrev", "skriver", "kirjoitti", "napisał", "napisała", "napisal", "napsal", "napisao", "napisala",
        "pisze", "написал", "написала", "написав", "написала", "пишет", "пише", "писал", "írta", "yazdı",
        "έγραψε", "a scris", "rašė", "kirjutas", "rakstīja", "het volgende geschreven", "heeft geschreven",
        "写道", "寫道", "のメッセージ", "のメール", "님이 작성", "작성:", "さんは書きました", "書きました",
    ])

    /// Labels that start an Outlook-style quoted header block ("From:").
    static let fromLabels = bytes([
        "from", "von", "de", "da", "van", "od", "от", "від", "från", "fra", "frå", "lähettäjä", "feladó",
        "kimden", "afzender", "remetente", "expéditeur", "mittente", "nadawca", "відправник", "отправитель",
        "avsändare", "afsender", "avsender", "από", "差出人", "发件人", "寄件者", "寄件人", "보낸 사람", "보낸사람",
        "от кого", "От", "Від", "ОТ",
    ])

    /// Labels that follow "From:" in a quoted header block: date, recipients, subject.
    static let blockLabels = bytes([
        "sent", "date", "to", "cc", "subject", "gesendet", "datum", "an", "betreff", "envoyé", "envoye", "à", "a",
        "objet", "enviado", "enviada", "enviado em", "enviada em", "fecha", "para", "asunto", "inviato", "data", "oggetto", "verzonden",
        "verstuurd", "aan", "onderwerp", "wysłano", "wysłane", "do", "temat", "отправлено", "дата", "кому",
        "тема", "надіслано", "skickat", "till", "ämne", "sendt", "til", "emne", "lähetetty", "vastaanottaja",
        "aihe", "elküldve", "címzett", "tárgy", "gönderildi", "tarih", "kime", "konu", "assunto", "kopie",
        "copie", "cco", "bcc", "sent at", "送信日時", "宛先", "件名", "发送时间", "發送時間", "傳送時間", "日期",
        "时间", "時間", "收件人", "收件者", "主题", "主旨", "抄送", "副本", "보낸 날짜", "받는 사람", "제목",
        "Отправлено", "Дата", "Кому", "Тема", "Надіслано", "Ämne", "À",
    ])

    /// Labels for the date a quoted message was sent (a header block may start with one).
    static let dateLabels = bytes([
        "sent", "date", "gesendet", "datum", "envoyé", "envoye", "enviado", "enviada", "enviado em", "enviada em",
        "fecha", "inviato", "data", "verzonden", "verstuurd", "wysłano", "wysłane", "отправлено", "дата",
        "надіслано", "skickat", "sendt", "lähetetty", "elküldve", "gönderildi", "tarih", "送信日時", "发送时间",
        "發送時間", "傳送時間", "日期", "时间", "時間", "보낸 날짜",
    ])

    /// Labels for the recipients of a quoted message.
    static let toLabels = bytes([
        "to", "an", "à", "a", "para", "aan", "do", "кому", "till", "til", "vastaanottaja", "címzett", "kime",
        "宛先", "收件人", "收件者", "받는 사람", "À", "Кому",
    ])

    /// Reference header-block "sent" labels (`Sent|Gesendet|Date|Datum|Envoyé|送信日時`).
    static let referenceSentLabels = bytes(["sent", "gesendet", "date", "datum", "envoyé", "送信日時"])
    /// Reference header-block "from" labels (`From|Von|De|差出人`).
    static let referenceFromLabels = bytes(["from", "von", "de", "差出人"])

    /// Phrases that make up an original/forwarded message banner (with or without dashes).
    static let bannerPhrases = bytes([
        "original message", "ursprüngliche nachricht", "message d'origine", "message d’origine", "元のメッセージ",
        "forwarded message", "weitergeleitete nachricht", "message transféré", "mensaje original",
        "mensaje reenviado", "messaggio originale", "messaggio inoltrato", "mensagem original",
        "mensagem encaminhada", "oorspronkelijk bericht", "doorgestuurd bericht", "oryginalna wiadomość",
        "wiadomość przekazana", "przekazana wiadomość", "исходное сообщение", "пересылаемое сообщение",
        "переадресованное сообщение", "пересланное сообщение", "оригинальное сообщение", "Пересланное сообщение", "Исходное сообщение", "Пересылаемое сообщение",
        "вихідне повідомлення", "пересланий лист", "переслане повідомлення", "Переслане повідомлення", "оригінальне повідомлення", "Вихідне повідомлення",
        "ursprungligt meddelande", "vidarebefordrat meddelande", "opprinnelig melding", "videresendt melding",
        "oprindelig meddelelse", "videresendt meddelelse", "alkuperäinen viesti", "välitetty viesti",
        "původní zpráva", "přeposlaná zpráva", "eredeti üzenet", "orijinal ileti", "原始邮件", "原始郵件",
        "转发邮件", "轉寄郵件", "転送メッセージ", "転送されたメッセージ", "원본 메시지", "전달된 메시지",
    ])

    /// Whole-line markers that start forwarded or quoted content (compared after trimming).
    static let forwardLines = bytes([
        "begin forwarded message:", "anfang der weitergeleiteten nachricht:", "début du message réexpédié :",
        "début du message réexpédié:", "inicio del mensaje reenviado:", "inizio messaggio inoltrato:",
        "início da mensagem reencaminhada:", "begin doorgestuurd bericht:", "początek przekazywanej wiadomości:",
        "начало переадресованного сообщения:", "начало пересылаемого сообщения:", "vidarebefordrat mejl:", "videresendt meddelelse:",
        "転送されたメッセージ:", "以下是转发的邮件：", "转发的邮件：",
    ])

    /// Mobile and app signatures that open a line (the reference's plus other languages/apps).
    static let mobilePrefixes = bytes([
        "get outlook for ", "envoyé de mon ", "envoyé depuis mon ", "envoyé à partir de ", "enviado desde mi ",
        "enviado desde mi ", "enviado do meu ", "enviado de meu ", "enviado de mi ", "enviado a partir do ",
        "inviato da iphone", "inviato da ipad", "inviato dal mio ", "inviato da android", "verzonden vanaf mijn ",
        "verstuurd vanaf mijn ", "verzonden met mijn ", "wysłane z mojego ", "wysłane z iphone", "wysłane z ipada",
        "отправлено с iphone", "отправлено с моего ", "отправлено из мобильной", "надіслано з iphone",
        "надіслано з мого ", "skickat från min ", "sendt fra min ", "sendt fra iphone", "lähetetty iphonesta",
        "lähetetty laitteesta", "odesláno z iphonu", "odesláno z mého ", "iphone'umdan gönderildi",
        "gesendet von meinem ", "gesendet vom iphone", "von meinem iphone gesendet", "von meinem ipad gesendet",
        "sent from my ", "sent from yahoo mail", "sent from mail for windows", "sent from outlook for ",
        "sent from proton mail", "sent with proton mail", "sent from protonmail", "sent from samsung",
        "télécharger outlook pour ", "obtener outlook para ", "scarica outlook per ", "outlook für ios",
        "outlook für android", "baixe o outlook para ", "pobierz aplikację outlook", "outlook voor ",
        "iphoneから送信", "ipadから送信", "android から送信", "androidから送信", "发自我的", "從我的 iphone 傳送",
        "從我的iphone傳送", "寄件自我的", "來自我的", "从我的 iphone 发送", "从我的iphone发送", "iphone에서 보냄",
    ])
}
