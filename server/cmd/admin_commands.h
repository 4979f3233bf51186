// turnpike-admin's subcommands. Each returns the process exit status.
#pragma once

namespace turnpike::cmd {

int admin_secret(int argc, char** argv);       // secret generate
int admin_credentials(int argc, char** argv);  // credentials -c FILE --user NAME [--ttl S] [--json]
int admin_sessions(int argc, char** argv);  // sessions [--active] [--user U] [--since T] [--json]
int admin_refusals(int argc, char** argv);  // refusals [--since T] [--json]
int admin_who(int argc, char** argv);       // who JID|USERNAME [--json]
int admin_stats(int argc, char** argv);     // stats [--since T] [--json]
int admin_probe(int argc, char** argv);     // probe URL... | --xmpp JID [...]
int admin_check_link(int argc, char** argv);  // check-link [-c FILE] [--ttl T] [--note TEXT]
int admin_checks(int argc, char** argv);      // checks [--since T] [--json]
int admin_reload(int argc, char** argv);      // reload [--binary] [-c FILE | --pidfile FILE]
// Over the control socket of the running relay (admin_control.cc).
int admin_status(int argc, char** argv);      // status [-c FILE] [--json]
int admin_disconnect(int argc, char** argv);  // disconnect --user U | --session ID | --client A
int admin_drain(int argc, char** argv);       // drain [--wait]

}  // namespace turnpike::cmd
