/**
 * Named constants of the MySQL client/server protocol (MySQL source documentation "Capabilities Flags",
 * "Text Protocol" command list, SERVER_STATUS_flags_enum, enum_field_types, column definition flags) and the
 * MariaDB extensions (MariaDB "Connection" § capabilities).
 */

// ---- Capability flags (§ Capabilities Flags): the lower 32 bits exchanged in the handshake ----

export const CLIENT_LONG_PASSWORD = 1;
/** MariaDB's name for bit 0: a server that clears it is MariaDB and sends extended capabilities. */
export const CLIENT_MYSQL = CLIENT_LONG_PASSWORD;
export const CLIENT_FOUND_ROWS = 1 << 1;
export const CLIENT_LONG_FLAG = 1 << 2;
export const CLIENT_CONNECT_WITH_DB = 1 << 3;
export const CLIENT_NO_SCHEMA = 1 << 4;
export const CLIENT_COMPRESS = 1 << 5;
export const CLIENT_ODBC = 1 << 6;
export const CLIENT_LOCAL_FILES = 1 << 7;
export const CLIENT_IGNORE_SPACE = 1 << 8;
export const CLIENT_PROTOCOL_41 = 1 << 9;
export const CLIENT_INTERACTIVE = 1 << 10;
export const CLIENT_SSL = 1 << 11;
export const CLIENT_IGNORE_SIGPIPE = 1 << 12;
export const CLIENT_TRANSACTIONS = 1 << 13;
export const CLIENT_RESERVED = 1 << 14;
/** CLIENT_RESERVED2 in newer docs: 4.1 authentication (length-prefixed auth response). */
export const CLIENT_SECURE_CONNECTION = 1 << 15;
export const CLIENT_MULTI_STATEMENTS = 1 << 16;
export const CLIENT_MULTI_RESULTS = 1 << 17;
export const CLIENT_PS_MULTI_RESULTS = 1 << 18;
export const CLIENT_PLUGIN_AUTH = 1 << 19;
export const CLIENT_CONNECT_ATTRS = 1 << 20;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21;
export const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22;
export const CLIENT_SESSION_TRACK = 1 << 23;
export const CLIENT_DEPRECATE_EOF = 1 << 24;
/** Changes the resultset format (metadata may be omitted); not decoded here, so never negotiate it. */
export const CLIENT_OPTIONAL_RESULTSET_METADATA = 1 << 25;
/** Adds a compression level byte to HandshakeResponse41; not decoded here, so never negotiate it. */
export const CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1 << 26;
/** Prefixes COM_QUERY with query attributes; not decoded here, so never negotiate it. */
export const CLIENT_QUERY_ATTRIBUTES = 1 << 27;
export const MULTI_FACTOR_AUTHENTICATION = 1 << 28;
export const CLIENT_CAPABILITY_EXTENSION = 1 << 29;
export const CLIENT_SSL_VERIFY_SERVER_CERT = 1 << 30;
export const CLIENT_REMEMBER_OPTIONS = 2 ** 31;

// ---- MariaDB extended capabilities: bits 32..63, carried as their own int<4> (values here are shifted down by 32) ----

/** Progress reports arrive as ERR_Packets with errno 0xFFFF in the middle of a command; never negotiate it. */
export const MARIADB_CLIENT_PROGRESS = 1;
export const MARIADB_CLIENT_COM_MULTI = 1 << 1;
export const MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1 << 2;
/** Adds extended type info to ColumnDefinition41; not decoded here, so never negotiate it. */
export const MARIADB_CLIENT_EXTENDED_METADATA = 1 << 3;
/** Adds a "metadata follows" byte to the column count packet; not decoded here, so never negotiate it. */
export const MARIADB_CLIENT_CACHE_METADATA = 1 << 4;
export const MARIADB_CLIENT_BULK_UNIT_RESULTS = 1 << 5;

// ---- Command bytes (§ Text Protocol, § Prepared Statements, § Replication) ----

export const COM_SLEEP = 0x00;
export const COM_QUIT = 0x01;
export const COM_INIT_DB = 0x02;
export const COM_QUERY = 0x03;
export const COM_FIELD_LIST = 0x04;
export const COM_CREATE_DB = 0x05;
export const COM_DROP_DB = 0x06;
export const COM_REFRESH = 0x07;
export const COM_SHUTDOWN = 0x08;
export const COM_STATISTICS = 0x09;
export const COM_PROCESS_INFO = 0x0a;
export const COM_CONNECT = 0x0b;
export const COM_PROCESS_KILL = 0x0c;
export const COM_DEBUG = 0x0d;
export const COM_PING = 0x0e;
export const COM_TIME = 0x0f;
export const COM_DELAYED_INSERT = 0x10;
export const COM_CHANGE_USER = 0x11;
export const COM_BINLOG_DUMP = 0x12;
export const COM_TABLE_DUMP = 0x13;
export const COM_CONNECT_OUT = 0x14;
export const COM_REGISTER_SLAVE = 0x15;
export const COM_STMT_PREPARE = 0x16;
export const COM_STMT_EXECUTE = 0x17;
export const COM_STMT_SEND_LONG_DATA = 0x18;
export const COM_STMT_CLOSE = 0x19;
export const COM_STMT_RESET = 0x1a;
export const COM_SET_OPTION = 0x1b;
export const COM_STMT_FETCH = 0x1c;
export const COM_DAEMON = 0x1d;
export const COM_BINLOG_DUMP_GTID = 0x1e;
export const COM_RESET_CONNECTION = 0x1f;
export const COM_CLONE = 0x20;
/** MariaDB: COM_STMT_BULK_EXECUTE (with MARIADB_CLIENT_STMT_BULK_OPERATIONS). */
export const COM_STMT_BULK_EXECUTE = 0xfa;
/** MariaDB 10.2–10.5: several commands in one packet (with MARIADB_CLIENT_COM_MULTI). */
export const COM_MULTI = 0xfe;

const commandNames: Record<number, string> = {
  [COM_SLEEP]: 'COM_SLEEP',
  [COM_QUIT]: 'COM_QUIT',
  [COM_INIT_DB]: 'COM_INIT_DB',
  [COM_QUERY]: 'COM_QUERY',
  [COM_FIELD_LIST]: 'COM_FIELD_LIST',
  [COM_CREATE_DB]: 'COM_CREATE_DB',
  [COM_DROP_DB]: 'COM_DROP_DB',
  [COM_REFRESH]: 'COM_REFRESH',
  [COM_SHUTDOWN]: 'COM_SHUTDOWN',
  [COM_STATISTICS]: 'COM_STATISTICS',
  [COM_PROCESS_INFO]: 'COM_PROCESS_INFO',
  [COM_CONNECT]: 'COM_CONNECT',
  [COM_PROCESS_KILL]: 'COM_PROCESS_KILL',
  [COM_DEBUG]: 'COM_DEBUG',
  [COM_PING]: 'COM_PING',
  [COM_TIME]: 'COM_TIME',
  [COM_DELAYED_INSERT]: 'COM_DELAYED_INSERT',
  [COM_CHANGE_USER]: 'COM_CHANGE_USER',
  [COM_BINLOG_DUMP]: 'COM_BINLOG_DUMP',
  [COM_TABLE_DUMP]: 'COM_TABLE_DUMP',
  [COM_CONNECT_OUT]: 'COM_CONNECT_OUT',
  [COM_REGISTER_SLAVE]: 'COM_REGISTER_SLAVE',
  [COM_STMT_PREPARE]: 'COM_STMT_PREPARE',
  [COM_STMT_EXECUTE]: 'COM_STMT_EXECUTE',
  [COM_STMT_SEND_LONG_DATA]: 'COM_STMT_SEND_LONG_DATA',
  [COM_STMT_CLOSE]: 'COM_STMT_CLOSE',
  [COM_STMT_RESET]: 'COM_STMT_RESET',
  [COM_SET_OPTION]: 'COM_SET_OPTION',
  [COM_STMT_FETCH]: 'COM_STMT_FETCH',
  [COM_DAEMON]: 'COM_DAEMON',
  [COM_BINLOG_DUMP_GTID]: 'COM_BINLOG_DUMP_GTID',
  [COM_RESET_CONNECTION]: 'COM_RESET_CONNECTION',
  [COM_CLONE]: 'COM_CLONE',
  [COM_STMT_BULK_EXECUTE]: 'COM_STMT_BULK_EXECUTE',
  [COM_MULTI]: 'COM_MULTI',
};

/** 'COM_QUERY' for 0x03; 'COM_UNKNOWN(0xNN)' for a byte with no name. */
export function commandName(command: number): string {
  return commandNames[command] ?? `COM_UNKNOWN(0x${command.toString(16).padStart(2, '0')})`;
}

// ---- Packet header bytes (§ Generic Response Packets) ----

export const OK_HEADER = 0x00;
/** EOF_Packet; also the OK_Packet ending a resultset with CLIENT_DEPRECATE_EOF, and AuthSwitchRequest. */
export const EOF_HEADER = 0xfe;
export const ERR_HEADER = 0xff;
/** LOCAL INFILE Request (§ LOCAL INFILE Request); in rows, 0xFB is NULL. */
export const LOCAL_INFILE_HEADER = 0xfb;
export const AUTH_MORE_DATA_HEADER = 0x01;
export const AUTH_SWITCH_REQUEST_HEADER = 0xfe;

// ---- Server status flags (SERVER_STATUS_flags_enum) ----

export const SERVER_STATUS_IN_TRANS = 1;
export const SERVER_STATUS_AUTOCOMMIT = 1 << 1;
export const SERVER_MORE_RESULTS_EXISTS = 1 << 3;
export const SERVER_QUERY_NO_GOOD_INDEX_USED = 1 << 4;
export const SERVER_QUERY_NO_INDEX_USED = 1 << 5;
export const SERVER_STATUS_CURSOR_EXISTS = 1 << 6;
export const SERVER_STATUS_LAST_ROW_SENT = 1 << 7;
export const SERVER_STATUS_DB_DROPPED = 1 << 8;
export const SERVER_STATUS_NO_BACKSLASH_ESCAPES = 1 << 9;
export const SERVER_STATUS_METADATA_CHANGED = 1 << 10;
export const SERVER_QUERY_WAS_SLOW = 1 << 11;
export const SERVER_PS_OUT_PARAMS = 1 << 12;
export const SERVER_STATUS_IN_TRANS_READONLY = 1 << 13;
export const SERVER_SESSION_STATE_CHANGED = 1 << 14;

// ---- Column types (enum_field_types) ----

export const MYSQL_TYPE_DECIMAL = 0;
export const MYSQL_TYPE_TINY = 1;
export const MYSQL_TYPE_SHORT = 2;
export const MYSQL_TYPE_LONG = 3;
export const MYSQL_TYPE_FLOAT = 4;
export const MYSQL_TYPE_DOUBLE = 5;
export const MYSQL_TYPE_NULL = 6;
export const MYSQL_TYPE_TIMESTAMP = 7;
export const MYSQL_TYPE_LONGLONG = 8;
export const MYSQL_TYPE_INT24 = 9;
export const MYSQL_TYPE_DATE = 10;
export const MYSQL_TYPE_TIME = 11;
export const MYSQL_TYPE_DATETIME = 12;
export const MYSQL_TYPE_YEAR = 13;
export const MYSQL_TYPE_NEWDATE = 14;
export const MYSQL_TYPE_VARCHAR = 15;
export const MYSQL_TYPE_BIT = 16;
export const MYSQL_TYPE_TIMESTAMP2 = 17;
export const MYSQL_TYPE_DATETIME2 = 18;
export const MYSQL_TYPE_TIME2 = 19;
export const MYSQL_TYPE_TYPED_ARRAY = 20;
export const MYSQL_TYPE_VECTOR = 242;
export const MYSQL_TYPE_INVALID = 243;
export const MYSQL_TYPE_BOOL = 244;
export const MYSQL_TYPE_JSON = 245;
export const MYSQL_TYPE_NEWDECIMAL = 246;
export const MYSQL_TYPE_ENUM = 247;
export const MYSQL_TYPE_SET = 248;
export const MYSQL_TYPE_TINY_BLOB = 249;
export const MYSQL_TYPE_MEDIUM_BLOB = 250;
export const MYSQL_TYPE_LONG_BLOB = 251;
export const MYSQL_TYPE_BLOB = 252;
export const MYSQL_TYPE_VAR_STRING = 253;
export const MYSQL_TYPE_STRING = 254;
export const MYSQL_TYPE_GEOMETRY = 255;

// ---- Column definition flags ----

export const NOT_NULL_FLAG = 1;
export const PRI_KEY_FLAG = 1 << 1;
export const UNIQUE_KEY_FLAG = 1 << 2;
export const MULTIPLE_KEY_FLAG = 1 << 3;
export const BLOB_FLAG = 1 << 4;
export const UNSIGNED_FLAG = 1 << 5;
export const ZEROFILL_FLAG = 1 << 6;
export const BINARY_FLAG = 1 << 7;
export const ENUM_FLAG = 1 << 8;
export const AUTO_INCREMENT_FLAG = 1 << 9;
export const TIMESTAMP_FLAG = 1 << 10;
export const SET_FLAG = 1 << 11;
export const NO_DEFAULT_VALUE_FLAG = 1 << 12;
export const ON_UPDATE_NOW_FLAG = 1 << 13;
export const PART_KEY_FLAG = 1 << 14;
export const NUM_FLAG = 1 << 15;

// ---- Character sets (collation ids as sent in the handshake and column definitions) ----

export const CHARSET_LATIN1_SWEDISH_CI = 8;
export const CHARSET_UTF8MB3_GENERAL_CI = 33;
export const CHARSET_UTF8MB4_GENERAL_CI = 45;
export const CHARSET_BINARY = 63;
export const CHARSET_UTF8MB4_UNICODE_CI = 224;
export const CHARSET_UTF8MB4_0900_AI_CI = 255;

// ---- Error numbers jitgate sends, with their SQLSTATEs (server error reference; CR_ = client error) ----

export const ER_CON_COUNT_ERROR = 1040;
export const ER_HANDSHAKE_ERROR = 1043;
export const ER_ACCESS_DENIED_ERROR = 1045;
export const ER_UNKNOWN_COM_ERROR = 1047;
export const ER_SERVER_SHUTDOWN = 1053;
export const ER_UNKNOWN_ERROR = 1105;
export const ER_TABLEACCESS_DENIED_ERROR = 1142;
export const ER_NET_PACKET_TOO_LARGE = 1153;
export const ER_NET_READ_INTERRUPTED = 1159;
export const ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227;
export const ER_NOT_SUPPORTED_YET = 1235;
export const ER_CONNECTION_KILLED = 1927;
/** A client-side code: proxies use it for an unreachable upstream. */
export const CR_CONN_HOST_ERROR = 2003;
export const ER_CLIENT_INTERACTION_TIMEOUT = 4031;

/** SQLSTATE of each error number above. */
export const SQLSTATE: Readonly<Record<number, string>> = {
  [ER_CON_COUNT_ERROR]: '08004',
  [ER_HANDSHAKE_ERROR]: '08S01',
  [ER_ACCESS_DENIED_ERROR]: '28000',
  [ER_UNKNOWN_COM_ERROR]: '08S01',
  [ER_SERVER_SHUTDOWN]: '08S01',
  [ER_UNKNOWN_ERROR]: 'HY000',
  [ER_TABLEACCESS_DENIED_ERROR]: '42000',
  [ER_NET_PACKET_TOO_LARGE]: '08S01',
  [ER_NET_READ_INTERRUPTED]: '08S01',
  [ER_SPECIFIC_ACCESS_DENIED_ERROR]: '42000',
  [ER_NOT_SUPPORTED_YET]: '42000',
  [ER_CONNECTION_KILLED]: '70100',
  [CR_CONN_HOST_ERROR]: 'HY000',
  [ER_CLIENT_INTERACTION_TIMEOUT]: 'HY000',
};

/** The SQLSTATE of `errno`; 'HY000' (general error) for numbers not listed. */
export function sqlstateOf(errno: number): string {
  return SQLSTATE[errno] ?? 'HY000';
}

// ---- Authentication ----

export const MYSQL_NATIVE_PASSWORD = 'mysql_native_password';
export const CACHING_SHA2_PASSWORD = 'caching_sha2_password';
export const SHA256_PASSWORD = 'sha256_password';
export const MYSQL_CLEAR_PASSWORD = 'mysql_clear_password';
export const CLIENT_ED25519 = 'client_ed25519';

/** Length of the scramble (auth-plugin-data) of mysql_native_password and caching_sha2_password. */
export const SCRAMBLE_LENGTH = 20;
