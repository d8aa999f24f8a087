# UDP_Server.py -- the course's UDP server template (Lab 2, questions 1 and 2).
#
#   python3 UDP_Server.py [PORT]          (default port 12000)
#
# Waits for datagrams on PORT and sends each one back upper-cased to whoever sent it.
# Stop it with Ctrl-C.
import sys
from socket import AF_INET, SOCK_DGRAM, socket

DEFAULT_PORT = 12000
BUFFER_SIZE = 2048  # the largest datagram read at once

if len(sys.argv) > 2 or (len(sys.argv) == 2 and not (sys.argv[1].isdigit() and int(sys.argv[1]) <= 65535)):
    sys.exit("usage: python3 UDP_Server.py [PORT]")
serverPort = int(sys.argv[1]) if len(sys.argv) == 2 else DEFAULT_PORT

serverSocket = socket(AF_INET, SOCK_DGRAM)  # a UDP socket
serverSocket.bind(("", serverPort))  # "" = every address of this computer
print("The server is ready to receive on port", serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(BUFFER_SIZE)  # one whole datagram, and who sent it
    modifiedMessage = message.decode("utf-8", "replace").upper()
    print("From", clientAddress, "received", repr(message.decode("utf-8", "replace")), flush=True)
    serverSocket.sendto(modifiedMessage.encode("utf-8"), clientAddress)  # the reply goes back to that address
