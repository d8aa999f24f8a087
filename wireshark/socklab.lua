-- socklab.lua: a Wireshark dissector for the socklab lab protocols (docs/protocols.md).
--
--   udp 12000 echo      tcp 12000 echo      udp 12001 date/time
--   tcp 12002 calc      tcp 12003 chat      (ports: Edit > Preferences > Protocols > SOCKLAB)
--
-- Load it for one run:     wireshark -X lua_script:wireshark/socklab.lua capture.pcap
--                          tshark -X lua_script:wireshark/socklab.lua -r capture.pcap -Y socklab
-- or for good:             cp wireshark/socklab.lua ~/.local/lib/wireshark/plugins/
--
-- Every TCP protocol of the lab is LF-terminated UTF-8 lines: a line may arrive
-- split over several segments (TCP reassembly is asked for one more segment until
-- the LF arrives) and one segment may hold several lines (each gets its own tree).
-- Lines whose meaning depends on what came before (the calculator's name line, the
-- chat login) are classified once, on the first pass over the capture, and the
-- verdict is stored per line, so clicking around re-dissects them identically.
-- Written for Wireshark 3.6+ (Lua 5.2: no utf8 library, no integer operators).

local MAX_LINE = 1024          -- bytes in a line without its ending (services/framing.py)
local MAX_PENDING = 64 * 1024  -- stop reassembling a "line" that has no LF after this many bytes
local INFO_TEXT = 60           -- bytes of message text shown in the Info column
local PT_TCP, PT_UDP = 2, 3    -- Wireshark's port_type values for pinfo.port_type

local socklab = Proto("socklab", "socklab lab protocols (echo, date/time, calc, chat)")

-- Services: transport, default port, preference name, Info/protocol column names.
local SERVICES = {
    { key = "udp_echo", name = "echo", transport = PT_UDP, port = 12000, title = "Echo", column = "ECHO" },
    { key = "tcp_echo", name = "echo", transport = PT_TCP, port = 12000, title = "Echo", column = "ECHO" },
    { key = "datetime", name = "datetime", transport = PT_UDP, port = 12001, title = "Date/time", column = "DATETIME" },
    { key = "calc", name = "calc", transport = PT_TCP, port = 12002, title = "Calc", column = "CALC" },
    { key = "chat", name = "chat", transport = PT_TCP, port = 12003, title = "Chat", column = "CHAT" },
}

------------------------------------------------------------------------------
-- Fields (display filters): socklab.calc.op == "/", socklab.chat.sender == "Batman", ...
------------------------------------------------------------------------------
local F = {
    service = ProtoField.string("socklab.service", "Service"),
    direction = ProtoField.string("socklab.direction", "Direction"),
    line = ProtoField.string("socklab.line", "Line"),
    length = ProtoField.uint32("socklab.length", "Length (bytes)"),
    error = ProtoField.string("socklab.error", "Error reason"),
    request_in = ProtoField.framenum("socklab.request_in", "Request in", base.NONE, frametype.REQUEST),
    response_in = ProtoField.framenum("socklab.response_in", "Response in", base.NONE, frametype.RESPONSE),
    time = ProtoField.relative_time("socklab.time", "Time since request"),

    echo_request = ProtoField.string("socklab.echo.request", "Echo request"),
    echo_reply = ProtoField.string("socklab.echo.reply", "Echo reply"),

    dt_request = ProtoField.string("socklab.datetime.request", "Date/time request"),
    dt_date = ProtoField.string("socklab.datetime.date", "Date"),
    dt_time = ProtoField.string("socklab.datetime.time", "Time"),

    calc_name = ProtoField.string("socklab.calc.name", "Client name"),
    calc_operand1 = ProtoField.string("socklab.calc.operand1", "First operand"),
    calc_op = ProtoField.string("socklab.calc.op", "Operator"),
    calc_operand2 = ProtoField.string("socklab.calc.operand2", "Second operand"),
    calc_result = ProtoField.string("socklab.calc.result", "Result"),
    calc_quit = ProtoField.bool("socklab.calc.quit", "Quit"),

    chat_login = ProtoField.string("socklab.chat.login", "Login name"),
    chat_sender = ProtoField.string("socklab.chat.sender", "Sender"),
    chat_text = ProtoField.string("socklab.chat.text", "Text"),
    chat_event = ProtoField.string("socklab.chat.event", "Server event"),
    chat_member = ProtoField.string("socklab.chat.member", "Member"),
    chat_time = ProtoField.string("socklab.chat.time", "Server time"),
    chat_members = ProtoField.uint32("socklab.chat.members", "Member count"),
    chat_quit = ProtoField.bool("socklab.chat.quit", "Quit"),
}
local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
socklab.fields = field_list

local E = {
    bad_utf8 = ProtoExpert.new("socklab.bad_utf8", "Line is not valid UTF-8", expert.group.MALFORMED, expert.severity.ERROR),
    too_long = ProtoExpert.new("socklab.too_long", "Line exceeds the lab's limit", expert.group.MALFORMED, expert.severity.WARN),
    unknown = ProtoExpert.new("socklab.unknown", "Line does not match the protocol", expert.group.PROTOCOL, expert.severity.WARN),
    error_reply = ProtoExpert.new("socklab.error_reply", "Server replied with an error", expert.group.RESPONSE_CODE, expert.severity.NOTE),
    no_request = ProtoExpert.new("socklab.no_request", "Reply without a request", expert.group.SEQUENCE, expert.severity.WARN),
    bug = ProtoExpert.new("socklab.bug", "socklab dissector failure", expert.group.UNDECODED, expert.severity.ERROR),
}
socklab.experts = { E.bad_utf8, E.too_long, E.unknown, E.error_reply, E.no_request, E.bug }

------------------------------------------------------------------------------
-- Preferences: one port per service (0 turns a service off), re-registered on change.
------------------------------------------------------------------------------
for _, svc in ipairs(SERVICES) do
    local proto = svc.transport == PT_TCP and "TCP" or "UDP"
    socklab.prefs[svc.key .. "_port"] =
        Pref.uint(svc.title .. " port (" .. proto .. ")", svc.port, "Server port of the " .. svc.name .. " service; 0 = off")
end

local registered = {}
local function register_ports()
    for _, r in ipairs(registered) do DissectorTable.get(r[1]):remove(r[2], socklab) end
    registered = {}
    for _, svc in ipairs(SERVICES) do
        local port = socklab.prefs[svc.key .. "_port"]
        local tbl = svc.transport == PT_TCP and "tcp.port" or "udp.port"
        if port > 0 then
            DissectorTable.get(tbl):add(port, socklab)
            registered[#registered + 1] = { tbl, port }
        end
    end
end
socklab.prefs_changed = register_ports

------------------------------------------------------------------------------
-- Text helpers
------------------------------------------------------------------------------

-- 0-based index of the first byte of the first invalid UTF-8 sequence (as Python's
-- UnicodeDecodeError.start reports it, so it matches the server's ERROR), or nil.
local function utf8_error(s)
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        if c < 0x80 then
            i = i + 1
        else
            local need
            if c >= 0xC2 and c <= 0xDF then need = 1
            elseif c >= 0xE0 and c <= 0xEF then need = 2
            elseif c >= 0xF0 and c <= 0xF4 then need = 3
            else return i - 1 end
            -- The second byte's range excludes overlong forms, surrogates and > U+10FFFF.
            local lo, hi = 0x80, 0xBF
            if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
            elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
            local c2 = s:byte(i + 1)
            if not c2 or c2 < lo or c2 > hi then return i - 1 end
            for k = 2, need do
                local ck = s:byte(i + k)
                if not ck or ck < 0x80 or ck > 0xBF then return i - 1 end
            end
            i = i + need + 1
        end
    end
    return nil
end

local function strip(s)
    return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Characters (not bytes) in valid UTF-8: count the bytes that start a character.
local function char_count(s)
    local _, continuation = s:gsub("[\128-\191]", "")
    return #s - continuation
end

-- At most INFO_TEXT bytes for a column, never cut inside a UTF-8 character.
local function shorten(s)
    if s == "" then return "(empty)" end
    if #s <= INFO_TEXT then return s end
    local cut = INFO_TEXT
    while cut > 0 and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do cut = cut - 1 end
    return s:sub(1, cut) .. "…"
end

local function is_number(s)
    -- The calculator's decimal notation: sign, digits, optional fraction, optional exponent.
    local mantissa, exp = s:match("^[+-]?([%d%.]+)(.*)$")
    if not mantissa or not (mantissa:match("^%d+%.?%d*$") or mantissa:match("^%.%d+$")) then return false end
    return exp == "" or exp:match("^[eE][+-]?%d+$") ~= nil
end

------------------------------------------------------------------------------
-- Per-conversation state, built on the first pass and only read afterwards
------------------------------------------------------------------------------
local f_tcp_stream = Field.new("tcp.stream")
local f_udp_stream = Field.new("udp.stream")

local conversations = {}
function socklab.init()
    conversations = {}
end

local function last_value(extractor)
    local all = { extractor() }
    return #all > 0 and all[#all].value or nil
end

local function conversation(pinfo, svc)
    local id = svc.transport == PT_TCP and last_value(f_tcp_stream) or last_value(f_udp_stream)
    local key = svc.key .. ":" .. tostring(id or (tostring(pinfo.src) .. ":" .. pinfo.src_port .. "-" ..
        tostring(pinfo.dst) .. ":" .. pinfo.dst_port))
    local conv = conversations[key]
    if not conv then
        conv = { lines = {}, pending = {}, phase = "naming", udp = svc.transport == PT_UDP }
        conversations[key] = conv
    end
    return conv
end

-- Pair a request with its reply. Over TCP replies come in request order. A UDP
-- request carries no id and may be lost: a client that gave up sends the next one,
-- so a reply answers the newest unanswered request (the same rule as pcap-report).
-- Both return rec, so a classifier ends with `return expect_reply(...)`/`take_reply(...)`.
local function expect_reply(conv, rec, pinfo)
    rec.frame, rec.ts = pinfo.number, pinfo.rel_ts
    conv.pending[#conv.pending + 1] = rec
    return rec
end

local function take_reply(conv, rec, pinfo)
    local req = table.remove(conv.pending, conv.udp and #conv.pending or 1)
    if not req then
        rec.orphan = true
        return rec
    end
    req.response_in = pinfo.number
    rec.request_in, rec.rtt = req.frame, pinfo.rel_ts - req.ts
    return rec
end

------------------------------------------------------------------------------
-- Classification: line text -> record {kind, info, ...}, per service and direction.
-- Each function may update conv (first pass only) and returns the record.
------------------------------------------------------------------------------
local classify = {}

function classify.echo(conv, text, to_server, pinfo)
    if to_server then
        return expect_reply(conv, { kind = "request", info = "request: " .. shorten(text) }, pinfo)
    end
    local rec = { kind = "reply", info = "reply: " .. shorten(text) }
    local reason = text:match("^ERROR (.*)$")
    if reason then rec.kind, rec.reason, rec.info = "error", reason, "error: " .. shorten(reason) end
    return take_reply(conv, rec, pinfo)
end

-- A datetime reply line as a record (before pairing).
local function datetime_reply(text, word)
    if word:match("^%d%d%d%d%-%d%d%-%d%d$") then
        return { kind = "date", value = word, info = "reply: " .. word .. " (date)" }
    elseif word:match("^%d%d:%d%d:%d%d$") then
        return { kind = "time", value = word, info = "reply: " .. word .. " (time)" }
    elseif text:match("^ERROR ") then
        local reason = strip(text:sub(7))
        return { kind = "error", reason = reason, info = "error: " .. shorten(reason) }
    end
    return { kind = "reply", info = "reply: " .. shorten(word), unknown = "neither a date, a time nor ERROR" }
end

function classify.datetime(conv, text, to_server, pinfo)
    local word = strip(text)
    if to_server then
        local rec = { kind = "request", word = word, info = "request: " .. shorten(word) }
        if word ~= "SEND_DATE" and word ~= "SEND_TIME" then rec.unknown = "not SEND_DATE or SEND_TIME" end
        return expect_reply(conv, rec, pinfo)
    end
    return take_reply(conv, datetime_reply(text, word), pinfo)
end

-- The calculator's name rule (services/calc/protocol.py check_name): 1-32 characters
-- after stripping, none of them a control character (C0, DEL or C1).
local CALC_MAX_NAME = 32
local function calc_name_ok(name)
    return name ~= "" and char_count(name) <= CALC_MAX_NAME
        and not name:find("[%z\1-\31\127]") and not name:find("\194[\128-\159]")
end

local function calc_request(text)
    local tokens = {}
    for first, token in text:gmatch("()(%S+)") do tokens[#tokens + 1] = { first, token } end
    if #tokens ~= 3 or not tokens[2][2]:match("^[%+%-%*/]$") then return nil end
    return tokens
end

-- A calculator reply line, and a request line of the session phase, as records (before pairing).
local function calc_reply(text)
    local reason = text:match("^ERROR (.*)$")
    if reason then return { kind = "error", reason = reason, info = "error: " .. shorten(reason) } end
    local rec = { kind = "result", info = "result: " .. shorten(text) }
    if not is_number(text) then rec.unknown = "a result must be a number or ERROR" end
    return rec
end

local function calc_session_request(text)
    local tokens = calc_request(text)
    if not tokens then
        return { kind = "request", info = "request: " .. shorten(text), unknown = "not <number> <op> <number>" }
    end
    return { kind = "request", tokens = tokens,
             info = "request: " .. shorten(tokens[1][2] .. " " .. tokens[2][2] .. " " .. tokens[3][2]) }
end

function classify.calc(conv, text, to_server, pinfo)
    if not to_server then return take_reply(conv, calc_reply(text), pinfo) end
    if strip(text) == "q" then
        conv.phase = "closing"
        return { kind = "quit", info = "quit" }
    end
    if conv.phase == "naming" then
        local name = strip(text)
        if calc_name_ok(name) then
            conv.phase, conv.name = "session", name
            return { kind = "name", name = name, info = "name: " .. shorten(name) }
        end
        return expect_reply(conv, { kind = "bad_name", name = name, info = "name refused: " .. shorten(name) }, pinfo)
    end
    return expect_reply(conv, calc_session_request(text), pinfo)
end

-- The chat room's name rule (services/chat/protocol.py check_name).
local function chat_name_ok(name)
    return #name >= 1 and #name <= 32 and name:match("^[%w_%.%-]+$") ~= nil and name:lower() ~= "server"
end

local CHAT_EVENTS = { joined = "join", left = "leave" }

local function chat_from_server(conv, text)
    local time, who, verb, count = text:match("^Server: time=(%d%d:%d%d:%d%d) (.-) has (%a+)%. Member count=(%d+)$")
    local event = verb and CHAT_EVENTS[verb]
    if event then
        if event == "join" and conv.phase == "naming" and conv.pending_login == who then
            conv.phase, conv.name = "member", who
        end
        return { kind = "event", event = event, member = who, time = time, count = tonumber(count),
                 info = event .. ": " .. who .. " (members=" .. count .. ")" }
    end
    time = text:match("^Server: time=(%d%d:%d%d:%d%d) server is shutting down%.$")
    if time then
        return { kind = "event", event = "shutdown", time = time, info = "server shutting down" }
    end
    local reason = text:match("^ERROR (.*)$")
    if reason then
        if conv.phase == "naming" then conv.pending_login = nil end
        return { kind = "error", reason = reason, info = "error: " .. shorten(reason) }
    end
    local sender, msg = text:match("^([%w_%.%-]+): (.*)$")
    if sender and sender ~= "Server" then
        return { kind = "message", sender = sender, text = msg, info = sender .. ": " .. shorten(msg) }
    end
    return { kind = "unknown", info = "line: " .. shorten(text), unknown = "not a chat event, message or ERROR" }
end

local function chat_from_client(conv, text)
    -- A login not refused before the client's next line was accepted (the server
    -- answers lines in order, and a refusal is the only reply that stops a join).
    if conv.phase == "naming" and conv.pending_login then
        conv.phase, conv.name = "member", conv.pending_login
    end
    if conv.phase == "naming" then
        local name = strip(text)
        conv.pending_login = chat_name_ok(name) and name or nil
        return { kind = "login", name = name, info = "login: " .. shorten(name) }
    end
    if strip(text) == "quit" then
        conv.phase = "left"
        return { kind = "quit", sender = conv.name, info = "quit (" .. conv.name .. ")" }
    end
    if strip(text) == "" then
        return { kind = "blank", sender = conv.name, info = "blank line from " .. conv.name .. " (dropped)" }
    end
    return { kind = "say", sender = conv.name, text = text, info = "message from " .. conv.name .. ": " .. shorten(text) }
end

function classify.chat(conv, text, to_server)
    if to_server then return chat_from_client(conv, text) end
    return chat_from_server(conv, text)
end

-- A line that is not UTF-8 or too long: the server answers ERROR (on every service),
-- so it still takes part in request/reply pairing.
local function classify_bad(conv, svc, to_server, pinfo, rec)
    if to_server and (svc.name == "echo" or svc.name == "datetime" or (svc.name == "calc" and conv.phase ~= "closing")) then
        expect_reply(conv, rec, pinfo)
    end
    return rec
end

------------------------------------------------------------------------------
-- Tree building
------------------------------------------------------------------------------

-- A sub-range of the line for a match found at 1-based byte position `first` in `text`.
local function sub(range, first, s)
    return range:range(first - 1, #s)
end

local show = {}

function show.echo(t, rec, range, text, to_server)
    if rec.kind == "request" then t:add(F.echo_request, range, text)
    elseif rec.kind == "reply" then t:add(F.echo_reply, range, text) end
end

function show.datetime(t, rec, range, text)
    if rec.kind == "request" then t:add(F.dt_request, range, rec.word)
    elseif rec.kind == "date" then t:add(F.dt_date, range, rec.value)
    elseif rec.kind == "time" then t:add(F.dt_time, range, rec.value) end
end

function show.calc(t, rec, range, text)
    if rec.kind == "name" or rec.kind == "bad_name" then
        t:add(F.calc_name, range, rec.name)
    elseif rec.kind == "quit" then
        t:add(F.calc_quit, range, true)
    elseif rec.kind == "result" then
        t:add(F.calc_result, range, text)
    elseif rec.kind == "request" and rec.tokens then
        local tk = rec.tokens
        t:add(F.calc_operand1, sub(range, tk[1][1], tk[1][2]), tk[1][2])
        t:add(F.calc_op, sub(range, tk[2][1], tk[2][2]), tk[2][2])
        t:add(F.calc_operand2, sub(range, tk[3][1], tk[3][2]), tk[3][2])
    end
end

function show.chat(t, rec, range, text)
    local k = rec.kind
    if k == "login" then
        t:add(F.chat_login, range, rec.name)
    elseif k == "say" or k == "quit" or k == "blank" then
        t:add(F.chat_sender, rec.sender):set_generated()
        if k == "say" then t:add(F.chat_text, range, rec.text) end
        if k == "quit" then t:add(F.chat_quit, range, true) end
    elseif k == "message" then
        t:add(F.chat_sender, range:range(0, #rec.sender), rec.sender)
        t:add(F.chat_text, range:range(#rec.sender + 2), rec.text)
    elseif k == "event" then
        t:add(F.chat_event, rec.event):set_generated()
        t:add(F.chat_time, sub(range, 14, rec.time), rec.time)
        if rec.member then
            t:add(F.chat_member, sub(range, 23, rec.member), rec.member)
            t:add(F.chat_members, rec.count):set_generated()
        end
    end
end

local function show_pairing(t, rec)
    if rec.response_in then t:add(F.response_in, rec.response_in):set_generated() end
    if rec.request_in then
        t:add(F.request_in, rec.request_in):set_generated()
        local secs = math.floor(rec.rtt)
        t:add(F.time, NSTime.new(secs, math.floor((rec.rtt - secs) * 1e9 + 0.5))):set_generated()
    end
end

-- `range` covers the line with its ending; `content` the line without it.
local function show_line(tree, svc, rec, range, content, text, to_server)
    local t = tree:add(socklab, range)
    t:set_text("socklab " .. svc.title .. ", " .. rec.info)
    t:add(F.service, svc.name):set_generated()
    t:add(F.direction, to_server and "to server" or "to client"):set_generated()
    t:add(F.line, content, text)
    t:add(F.length, content, content:len())
    if rec.bad_utf8 then
        t:add_proto_expert_info(E.bad_utf8, "Line is not valid UTF-8 (byte " .. rec.bad_utf8 .. ")")
    elseif rec.too_long then
        t:add_proto_expert_info(E.too_long, "Line of " .. rec.too_long .. " bytes exceeds " .. MAX_LINE)
    else
        show[svc.name](t, rec, content, text, to_server)
    end
    if rec.reason then
        t:add(F.error, rec.reason)
        t:add_proto_expert_info(E.error_reply, "Server replied ERROR " .. rec.reason)
    end
    if rec.unknown then t:add_proto_expert_info(E.unknown, "Unexpected " .. svc.title .. " line: " .. rec.unknown) end
    if rec.orphan then t:add_proto_expert_info(E.no_request) end
    show_pairing(t, rec)
end

------------------------------------------------------------------------------
-- Dissection
------------------------------------------------------------------------------

local function find_service(pinfo)
    for _, svc in ipairs(SERVICES) do
        local port = socklab.prefs[svc.key .. "_port"]
        if svc.transport == pinfo.port_type and port > 0 then
            if pinfo.dst_port == port then return svc, true end
            if pinfo.src_port == port then return svc, false end
        end
    end
    return nil
end

-- Several lines in one frame (or a reassembled line plus the rest of the frame,
-- dissected in two calls) share the Info column.
local function add_info(pinfo, svc, text)
    local current = tostring(pinfo.cols.info)
    if current:sub(1, #svc.title + 1) == svc.title .. " " then
        pinfo.cols.info:append(" | " .. svc.title .. " " .. text)
    else
        pinfo.cols.info:set(svc.title .. " " .. text)
    end
end

-- One message (a TCP line without its ending, or a UDP datagram) at `range`.
local function dissect_message(range, content, pinfo, tree, svc, to_server, key)
    local conv = conversation(pinfo, svc)
    local rec = conv.lines[key]
    local raw = content:raw()
    if not rec then
        -- Only the first pass decides; later passes must agree with it, so they reuse it.
        local bad = utf8_error(raw)
        if bad then
            rec = classify_bad(conv, svc, to_server, pinfo, { kind = "invalid", bad_utf8 = bad, info = "invalid UTF-8 line" })
        elseif #raw > MAX_LINE then
            rec = classify_bad(conv, svc, to_server, pinfo,
                               { kind = "too_long", too_long = #raw, info = "line of " .. #raw .. " bytes (too long)" })
        else
            rec = classify[svc.name](conv, raw, to_server, pinfo)
        end
        if not pinfo.visited then conv.lines[key] = rec end
    end
    local text = rec.bad_utf8 and content:string(ENC_UTF_8) or raw
    show_line(tree, svc, rec, range, content, text, to_server)
    add_info(pinfo, svc, rec.info)
end

local function line_key(pinfo, tvb, offset)
    return pinfo.number .. ":" .. tvb:offset() .. ":" .. tvb:len() .. ":" .. offset
end

local function dissect_stream(tvb, pinfo, tree, svc, to_server)
    local data = tvb:raw()
    local offset, len = 0, #data
    while offset < len do
        local nl = data:find("\n", offset + 1, true)
        if not nl then
            if len - offset <= MAX_PENDING then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                return len
            end
            nl = len + 1 -- give up waiting: show what there is as one (too long) line
        end
        local stop = nl - 1                       -- 1-based index of the line's last byte
        if stop >= offset + 1 and data:byte(stop) == 13 then stop = stop - 1 end
        local whole = tvb:range(offset, math.min(nl, len) - offset)
        local content = tvb:range(offset, stop - offset)
        dissect_message(whole, content, pinfo, tree, svc, to_server, line_key(pinfo, tvb, offset))
        offset = nl
    end
    return len
end

local function dissect_datagram(tvb, pinfo, tree, svc, to_server)
    local data = tvb:raw()
    local stop = #data
    if stop > 0 and data:byte(stop) == 10 then stop = stop - 1 end -- replies end with LF
    dissect_message(tvb:range(), tvb:range(0, stop), pinfo, tree, svc, to_server, line_key(pinfo, tvb, 0))
    return #data
end

local function dissect(tvb, pinfo, tree)
    local svc, to_server = find_service(pinfo)
    if not svc or tvb:len() == 0 then return 0 end
    pinfo.cols.protocol:set(svc.column)
    if svc.transport == PT_TCP then return dissect_stream(tvb, pinfo, tree, svc, to_server) end
    return dissect_datagram(tvb, pinfo, tree, svc, to_server)
end

function socklab.dissector(tvb, pinfo, tree)
    -- A bug here must show up as expert info on the packet, not as a Lua error dialog.
    local ok, result = pcall(dissect, tvb, pinfo, tree)
    if ok then return result end
    local item = tree:add(socklab, tvb:range())
    item:add_proto_expert_info(E.bug, "socklab dissector failure: " .. tostring(result))
    return tvb:len()
end

register_ports()
