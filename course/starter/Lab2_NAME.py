# Lab2_NAME.py -- starter for Lab 2 (socket programming): all of your code in this one file.
#
# Rename it to Lab2_<your team's name>.py. Fill in one function per question below; the
# command line is already written and follows the convention the grader uses:
#
#   python3 Lab2_NAME.py ROLE PORT                 servers
#   python3 Lab2_NAME.py ROLE HOST PORT [NAME]     clients
#
#   ROLE   one of the ten roles in ROLES below, e.g. calc-server or calc-client
#   PORT   the server's port (a server listens on it; a client talks to it)
#   HOST   the server's name or IP address (localhost, a lab host name, another computer)
#   NAME   the client's name (calc-client; the grader passes your team's name)
#
# For example:
#   python3 Lab2_NAME.py datetime-server 12001
#   python3 Lab2_NAME.py datetime-client localhost 12001
#   python3 Lab2_NAME.py calc-client localhost 12002 Ada
#
# Until you write a function, running its role says so and exits (status 3) instead of
# crashing, so the grader and `scripts/lab selftest` report "not written yet" for it.
# A server should keep running until it is stopped (Ctrl-C); clients read the user's
# lines from standard input. Questions 2, 5 and 7 are answered in your report.
import os
import sys

NOT_WRITTEN = 3  # exit status of a role whose function is still empty
USAGE = "usage: python3 {file} ROLE PORT (servers) | python3 {file} ROLE HOST PORT [NAME] (clients)"


class NotWrittenYet(Exception):
    """Raised by a question's function until you replace its body with your code."""


# -- Part 1: UDP sockets ---------------------------------------------------------------------------


def udp_echo_server(port):
    """Question 1 (and 2): the course's UDP server template, in this file.

    Make a UDP socket, bind it to `port` and answer every datagram with its text
    upper-cased, sent back to the address it came from. Question 2 runs it on another
    computer than the client.
    """
    raise NotWrittenYet


def udp_echo_client(host, port, name=None):
    """Question 1 (and 2): the course's UDP client template, in this file.

    Read a line typed by the user, send it in one datagram to `host`:`port` and print
    the reply. Question 2: `host` is the other computer's IP address.
    """
    raise NotWrittenYet


def datetime_server(port):
    """Question 3: a date/time server over UDP.

    Loop forever on `port`: a request is the text SEND_DATE or SEND_TIME; answer it with
    the current date, or the current time as HH:MM:SS, whichever was asked for.
    """
    raise NotWrittenYet


def datetime_client(host, port, name=None):
    """Question 3: a date/time client over UDP.

    Again and again: send SEND_DATE or SEND_TIME to `host`:`port`, print the answer that
    comes back, then wait a random 1 to 2 seconds before the next request.
    """
    raise NotWrittenYet


# -- Part 2: TCP sockets ---------------------------------------------------------------------------


def tcp_echo_server(port):
    """Question 4 (and 5): the course's TCP server template, in this file.

    Listen on `port`, accept a connection and send back what the client sends,
    upper-cased. Question 5: find its handshake and its text in Wireshark.
    """
    raise NotWrittenYet


def tcp_echo_client(host, port, name=None):
    """Question 4 (and 5): the course's TCP client template, in this file.

    Connect to `host`:`port`, send a line the user typed, print the reply.
    """
    raise NotWrittenYet


def calc_server(port):
    """Question 6: a calculator server over TCP, with a session per client.

    Listen on `port`. A client first sends its name, which the server keeps for the
    whole session. Then each request is two numbers and an operator separated by spaces
    (e.g. 12 + 42): print it, compute it and send the result back as text. When the
    client sends q, print "Session ended" and end the session.
    """
    raise NotWrittenYet


def calc_client(host, port, name=None):
    """Question 6: a calculator client over TCP.

    Connect to `host`:`port` and send the client's name (`name`, or choose one when it
    is None). Then, in a loop, read a line from the user: warn about a line that is not
    <number> <operator> <number> and do not send it; send a good one and print the
    answer. On q, send it to the server and stop.
    """
    raise NotWrittenYet


# -- Part 3: many clients (bonus) ------------------------------------------------------------------


def chat_server(port):
    """Question 8: a chat room manager over TCP, serving many clients at the same time.

    Listen on `port`. Each client logs in with a name no other member uses. Tell every
    member when someone joins or leaves (with the time and the member count), and send
    each line a member types to the others, with the sender's name.
    """
    raise NotWrittenYet


def chat_client(host, port, name=None):
    """Question 8: a chat window over TCP.

    Ask the user for a login name (or use `name`), log in to the chat room at
    `host`:`port`, then at the same time show what the server sends and send what the
    user types, until the user leaves.
    """
    raise NotWrittenYet


# -- the command line (already written: keep it, the grader depends on it) -------------------------

#: role -> (question, function); a role ending in "-server" takes PORT, a client HOST PORT [NAME].
ROLES = {
    "udp-echo-server": (1, udp_echo_server),
    "udp-echo-client": (1, udp_echo_client),
    "datetime-server": (3, datetime_server),
    "datetime-client": (3, datetime_client),
    "tcp-echo-server": (4, tcp_echo_server),
    "tcp-echo-client": (4, tcp_echo_client),
    "calc-server": (6, calc_server),
    "calc-client": (6, calc_client),
    "chat-server": (8, chat_server),
    "chat-client": (8, chat_client),
}


def parse_port(text):
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"PORT must be a number from 0 to 65535, not {text!r}")
    return int(text)


def parse(argv):
    """(role, arguments for its function) from the command line; ValueError says what is wrong."""
    if not argv or argv[0] not in ROLES:
        raise ValueError("ROLE must be one of: " + ", ".join(ROLES))
    role, rest = argv[0], argv[1:]
    if role.endswith("-server"):
        if len(rest) != 1:
            raise ValueError(f"{role} takes PORT")
        return role, [parse_port(rest[0])]
    if len(rest) not in (2, 3):
        raise ValueError(f"{role} takes HOST PORT [NAME]")
    return role, [rest[0], parse_port(rest[1]), rest[2] if len(rest) == 3 else None]


def main(argv):
    file = os.path.basename(sys.argv[0])
    try:
        role, args = parse(argv)
    except ValueError as problem:
        print(f"{file}: {problem}\n{USAGE.format(file=file)}", file=sys.stderr)
        return 2
    question, function = ROLES[role]
    try:
        function(*args)
    except NotWrittenYet:
        print(f"{role}: not written yet (question {question}): write {function.__name__}() in {file}", file=sys.stderr)
        return NOT_WRITTEN
    except KeyboardInterrupt:  # Ctrl-C: the usual way to stop a server
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
