BEGIN TRANSACTION;
CREATE TABLE channel_health (
    channel        TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,  -- consecutive failures, 0 after a success
    since          TEXT,              -- first failure of the current run of failures
    last_error     TEXT,
    total_failures INTEGER NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE TABLE cursors (
    channel   TEXT PRIMARY KEY,
    cursor    TEXT,
    polled_at TEXT NOT NULL
);
INSERT INTO "cursors" VALUES('x','2024-03-08T16:52:23+00:00','2024-03-08T16:52:23+00:00');
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO "meta" VALUES('name','small-race');
INSERT INTO "meta" VALUES('title','');
INSERT INTO "meta" VALUES('timezone','Europe/London');
INSERT INTO "meta" VALUES('seed','7');
INSERT INTO "meta" VALUES('scenario_hash','e1ad079629dbda03f6a2b18a7805266bd6cf7a60f7a99f385a878997348499a7');
INSERT INTO "meta" VALUES('scenario_file','watch.yaml');
INSERT INTO "meta" VALUES('scenario_yaml','name: small-race
seed: 7
timezone: Europe/London
personas:
  - {id: ana, name: Ana, accounts: {x: "@ana"}}
  - {id: ben, name: Ben, accounts: {x: "@ben"}}
channels:
  - {id: x, adapter: simulated, platform: x, poll_every: 5m}
categories:
  - id: question
    label: Question
    templates: ["{{ mention }} do you deliver on Sundays?"]
  - id: technical
    label: Technical
    templates: ["{{ mention }} the app crashes when I pay"]
    follow_up:
      - {after: 10m, template: "Still crashing after the update, what next?"}
schedule:
  start: 2024-03-04
  weeks: 2
  weekdays: [mon, tue, wed, thu, fri]
  send_window: {start: "09:00", end: "17:00"}
  observation_window: 3d
design: {type: counterbalanced, mentions: [at, name]}
brands:
  - id: fast
    name: Fast Co
    industry: Retail
    handles: {x: ["@FastCo"]}
    simulate:
      reply: {at: 0.9, name: 0.5}
      latency: {median: 10m, spread: 0.5}
      follow_up_reply: 1.0
      direct_message: 0.5
  - id: slow
    name: Slow Ltd
    industry: Retail
    handles: {x: ["@SlowLtd"]}
    simulate:
      reply: {at: 0.6}
      latency: {median: 20h, spread: 0.5}
      off_hours: queue
      auto_ack: {probability: 1.0, after: 2m}
  - id: mute
    name: Mute Inc
    industry: Banking
    handles: {x: ["@MuteInc"]}
  - id: bank
    name: Bank Plc
    industry: Banking
    handles: {x: ["@BankPlc", "@BankPlcHelp"]}
    simulate:
      reply: {at: 0.5, name: 0.2}
      latency: {median: 1h}
      email: 0.5
objectives:
  - name: answered
    brands: [mute, fast]
    indicator: {kind: response_rate}
    target: 50%
    min_probes: 3
alerts:
  urls: [{env: SHOPPER_TEST_ALERT_URL}]
');
INSERT INTO "meta" VALUES('scenario_json','{"name":"small-race","title":"","description":"","seed":7,"timezone":"Europe/London","personas":[{"id":"ana","name":"Ana","accounts":{"x":"@ana"},"attributes":{}},{"id":"ben","name":"Ben","accounts":{"x":"@ben"},"attributes":{}}],"brands":[{"id":"fast","name":"Fast Co","industry":"Retail","handles":{"x":["@FastCo"]},"hashtag":null,"timezone":null,"business_hours":{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"},"simulate":{"reply":{"at":0.9,"name":0.5},"category":{},"latency":{"median":"10m","spread":0.5,"minimum":"30s"},"off_hours":"answer","weekends":"queue","direct_message":0.5,"email":0.0,"follow_up_reply":1.0,"auto_ack":null,"texts":["Hi! Sorry to hear that. Could you tell us a bit more?"]}},{"id":"slow","name":"Slow Ltd","industry":"Retail","handles":{"x":["@SlowLtd"]},"hashtag":null,"timezone":null,"business_hours":{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"},"simulate":{"reply":{"at":0.6},"category":{},"latency":{"median":"20h","spread":0.5,"minimum":"30s"},"off_hours":"queue","weekends":"queue","direct_message":0.0,"email":0.0,"follow_up_reply":0.8,"auto_ack":{"probability":1.0,"after":"2m","kind":"direct_message","text":"Thanks for reaching out! We''ll get back to you as soon as we can."},"texts":["Hi! Sorry to hear that. Could you tell us a bit more?"]}},{"id":"mute","name":"Mute Inc","industry":"Banking","handles":{"x":["@MuteInc"]},"hashtag":null,"timezone":null,"business_hours":{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"},"simulate":{"reply":{},"category":{},"latency":{"median":"2h","spread":1.0,"minimum":"30s"},"off_hours":"answer","weekends":"queue","direct_message":0.0,"email":0.0,"follow_up_reply":0.8,"auto_ack":null,"texts":["Hi! Sorry to hear that. Could you tell us a bit more?"]}},{"id":"bank","name":"Bank Plc","industry":"Banking","handles":{"x":["@BankPlc","@BankPlcHelp"]},"hashtag":null,"timezone":null,"business_hours":{"days":["mon","tue","wed","thu","fri"],"open":"09:00","close":"17:00"},"simulate":{"reply":{"at":0.5,"name":0.2},"category":{},"latency":{"median":"1h","spread":1.0,"minimum":"30s"},"off_hours":"answer","weekends":"queue","direct_message":0.0,"email":0.5,"follow_up_reply":0.8,"auto_ack":null,"texts":["Hi! Sorry to hear that. Could you tell us a bit more?"]}}],"matchups":null,"categories":[{"id":"question","label":"Question","templates":["{{ mention }} do you deliver on Sundays?"],"follow_up":[]},{"id":"technical","label":"Technical","templates":["{{ mention }} the app crashes when I pay"],"follow_up":[{"after":"10m","template":"Still crashing after the update, what next?"}]}],"channels":[{"id":"x","adapter":"simulated","platform":"x","mode":"auto","personas":"all","brands":"all","poll_every":"5m","settings":{}}],"schedule":{"start":"2024-03-04","weeks":2,"weekdays":["mon","tue","wed","thu","fri"],"send_window":{"start":"09:00","end":"17:00"},"messages_per_brand_per_day":1,"observation_window":"3d","exclude_dates":[]},"design":{"type":"counterbalanced","mentions":["at","name"]},"report":{"quick_reply":"1h","slow_reply":"1d","fast_tier":"1h","alpha":0.05,"rate_test":"fisher","min_replies":5,"published":null},"objectives":[{"name":"answered","description":"","brands":["mute","fast"],"channels":"all","categories":"all","mentions":"all","indicator":{"kind":"response_rate","within":null,"counted_in":"wall_clock","at_least":null},"target":0.5,"window":"run","min_probes":3,"rule":"estimate","early_warning":null}],"maintenance":[],"alerts":{"urls":[{"env":"SHOPPER_TEST_ALERT_URL"}],"remind_every":null,"retries":3,"on_insufficient":false}}');
INSERT INTO "meta" VALUES('observation_window_s','259200');
INSERT INTO "meta" VALUES('created_at','2026-12-03T17:36:02.440701+00:00');
INSERT INTO "meta" VALUES('harness_version','0.2.0');
INSERT INTO "meta" VALUES('run_mode','simulated');
INSERT INTO "meta" VALUES('schema_version','3');
CREATE TABLE probes (
    probe_id     TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    persona      TEXT NOT NULL,
    brand        TEXT NOT NULL,
    industry     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    category     TEXT NOT NULL,
    mention      TEXT NOT NULL,
    week         INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    scheduled_at TEXT NOT NULL,
    text         TEXT NOT NULL,
    follow_ups   TEXT NOT NULL,  -- JSON list of {"delay_s": int, "text": str}
    closed_at    TEXT           -- when its observation window ended
);
INSERT INTO "probes" VALUES('2024-03-04-bank-1',0,'ben','bank','Banking','x','question','name',1,1,'2024-03-04T10:43:45+00:00','Bank Plc do you deliver on Sundays?','[]','2024-03-07T10:47:23+00:00');
INSERT INTO "probes" VALUES('2024-03-04-mute-1',1,'ana','mute','Banking','x','technical','at',1,1,'2024-03-04T12:49:41+00:00','@MuteInc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-07T12:52:23+00:00');
INSERT INTO "probes" VALUES('2024-03-04-fast-1',2,'ana','fast','Retail','x','question','at',1,1,'2024-03-04T13:49:22+00:00','@FastCo do you deliver on Sundays?','[]','2024-03-07T13:52:23+00:00');
INSERT INTO "probes" VALUES('2024-03-04-slow-1',3,'ben','slow','Retail','x','technical','name',1,1,'2024-03-04T13:55:23+00:00','Slow Ltd the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-07T13:57:23+00:00');
INSERT INTO "probes" VALUES('2024-03-05-mute-1',4,'ben','mute','Banking','x','question','at',1,2,'2024-03-05T09:44:20+00:00','@MuteInc do you deliver on Sundays?','[]','2024-03-08T09:47:23+00:00');
INSERT INTO "probes" VALUES('2024-03-05-bank-1',5,'ana','bank','Banking','x','technical','name',1,2,'2024-03-05T10:28:57+00:00','Bank Plc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-08T10:32:23+00:00');
INSERT INTO "probes" VALUES('2024-03-05-slow-1',6,'ana','slow','Retail','x','question','name',1,2,'2024-03-05T11:58:57+00:00','Slow Ltd do you deliver on Sundays?','[]','2024-03-08T12:02:23+00:00');
INSERT INTO "probes" VALUES('2024-03-05-fast-1',7,'ben','fast','Retail','x','technical','at',1,2,'2024-03-05T14:19:44+00:00','@FastCo the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-08T14:22:23+00:00');
INSERT INTO "probes" VALUES('2024-03-06-bank-1',8,'ana','bank','Banking','x','question','name',1,3,'2024-03-06T09:02:02+00:00','Bank Plc do you deliver on Sundays?','[]','2024-03-09T09:02:23+00:00');
INSERT INTO "probes" VALUES('2024-03-06-mute-1',9,'ben','mute','Banking','x','technical','at',1,3,'2024-03-06T10:58:56+00:00','@MuteInc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-09T11:02:23+00:00');
INSERT INTO "probes" VALUES('2024-03-06-fast-1',10,'ben','fast','Retail','x','question','at',1,3,'2024-03-06T14:08:55+00:00','@FastCo do you deliver on Sundays?','[]','2024-03-09T14:12:23+00:00');
INSERT INTO "probes" VALUES('2024-03-06-slow-1',11,'ana','slow','Retail','x','technical','name',1,3,'2024-03-06T16:59:19+00:00','Slow Ltd the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-09T17:02:23+00:00');
INSERT INTO "probes" VALUES('2024-03-07-mute-1',12,'ana','mute','Banking','x','question','at',1,4,'2024-03-07T10:22:18+00:00','@MuteInc do you deliver on Sundays?','[]','2024-03-10T10:22:23+00:00');
INSERT INTO "probes" VALUES('2024-03-07-bank-1',13,'ben','bank','Banking','x','technical','name',1,4,'2024-03-07T10:32:17+00:00','Bank Plc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]','2024-03-10T10:32:23+00:00');
INSERT INTO "probes" VALUES('2024-03-07-fast-1',14,'ana','fast','Retail','x','technical','at',1,4,'2024-03-07T13:29:02+00:00','@FastCo the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-07-slow-1',15,'ben','slow','Retail','x','question','name',1,4,'2024-03-07T15:35:51+00:00','Slow Ltd do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-08-fast-1',16,'ben','fast','Retail','x','question','at',1,5,'2024-03-08T09:51:11+00:00','@FastCo do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-08-mute-1',17,'ben','mute','Banking','x','technical','at',1,5,'2024-03-08T12:19:46+00:00','@MuteInc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-08-bank-1',18,'ana','bank','Banking','x','question','name',1,5,'2024-03-08T13:59:54+00:00','Bank Plc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-08-slow-1',19,'ana','slow','Retail','x','technical','name',1,5,'2024-03-08T16:48:06+00:00','Slow Ltd the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-11-fast-1',20,'ana','fast','Retail','x','technical','name',2,6,'2024-03-11T09:42:36+00:00','Fast Co the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-11-mute-1',21,'ana','mute','Banking','x','question','name',2,6,'2024-03-11T12:23:18+00:00','Mute Inc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-11-slow-1',22,'ben','slow','Retail','x','question','at',2,6,'2024-03-11T15:52:11+00:00','@SlowLtd do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-11-bank-1',23,'ben','bank','Banking','x','technical','at',2,6,'2024-03-11T15:56:04+00:00','@BankPlc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-12-fast-1',24,'ben','fast','Retail','x','question','name',2,7,'2024-03-12T10:34:59+00:00','Fast Co do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-12-mute-1',25,'ben','mute','Banking','x','technical','name',2,7,'2024-03-12T14:52:11+00:00','Mute Inc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-12-bank-1',26,'ana','bank','Banking','x','question','at',2,7,'2024-03-12T15:07:53+00:00','@BankPlc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-12-slow-1',27,'ana','slow','Retail','x','technical','at',2,7,'2024-03-12T15:47:06+00:00','@SlowLtd the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-13-mute-1',28,'ben','mute','Banking','x','question','name',2,8,'2024-03-13T09:47:44+00:00','Mute Inc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-13-slow-1',29,'ana','slow','Retail','x','question','at',2,8,'2024-03-13T12:32:18+00:00','@SlowLtd do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-13-bank-1',30,'ana','bank','Banking','x','technical','at',2,8,'2024-03-13T14:56:14+00:00','@BankPlc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-13-fast-1',31,'ben','fast','Retail','x','technical','name',2,8,'2024-03-13T16:54:44+00:00','Fast Co the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-14-slow-1',32,'ben','slow','Retail','x','technical','at',2,9,'2024-03-14T12:19:17+00:00','@SlowLtd the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-14-mute-1',33,'ana','mute','Banking','x','technical','name',2,9,'2024-03-14T13:12:02+00:00','Mute Inc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-14-fast-1',34,'ana','fast','Retail','x','question','name',2,9,'2024-03-14T14:17:22+00:00','Fast Co do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-14-bank-1',35,'ben','bank','Banking','x','question','at',2,9,'2024-03-14T14:18:20+00:00','@BankPlc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-15-fast-1',36,'ana','fast','Retail','x','technical','name',2,10,'2024-03-15T09:31:46+00:00','Fast Co the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
INSERT INTO "probes" VALUES('2024-03-15-slow-1',37,'ben','slow','Retail','x','question','at',2,10,'2024-03-15T11:13:57+00:00','@SlowLtd do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-15-mute-1',38,'ana','mute','Banking','x','question','name',2,10,'2024-03-15T14:36:21+00:00','Mute Inc do you deliver on Sundays?','[]',NULL);
INSERT INTO "probes" VALUES('2024-03-15-bank-1',39,'ben','bank','Banking','x','technical','at',2,10,'2024-03-15T16:53:12+00:00','@BankPlc the app crashes when I pay','[{"delay_s": 600, "text": "Still crashing after the update, what next?"}]',NULL);
CREATE TABLE replies (
    channel     TEXT NOT NULL,
    platform_id TEXT NOT NULL,
    probe_id    TEXT,              -- NULL when it matched no probe
    step        INTEGER,           -- the step it answered
    matched_by  TEXT NOT NULL,     -- in_reply_to | conversation | recent_probe | none
    author      TEXT NOT NULL,
    from_brand  INTEGER NOT NULL,  -- 1 if the author is one of the brand's official handles
    kind        TEXT NOT NULL,     -- public_reply | direct_message | email | other
    automated   INTEGER NOT NULL,
    text        TEXT NOT NULL,
    created_at  TEXT NOT NULL,     -- the platform's timestamp
    received_at TEXT NOT NULL,     -- when we polled it (never used for latency)
    in_reply_to TEXT,
    raw         TEXT NOT NULL,     -- the payload as the platform sent it (JSON)
    PRIMARY KEY (channel, platform_id)
);
INSERT INTO "replies" VALUES('x','x-2024-03-04-slow-1-s0-r1','2024-03-04-slow-1',0,'in_reply_to','@SlowLtd',1,'direct_message',1,'Thanks for reaching out! We''ll get back to you as soon as we can.','2024-03-04T13:57:23+00:00','2024-03-04T13:57:23+00:00','x-2024-03-04-slow-1-s0','{"id": "x-2024-03-04-slow-1-s0-r1", "in_reply_to": "x-2024-03-04-slow-1-s0", "created_at": "2024-03-04T13:57:23+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-04-fast-1-s0-r1','2024-03-04-fast-1',0,'in_reply_to','@FastCo',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-04T14:08:00+00:00','2024-03-04T14:12:23+00:00','x-2024-03-04-fast-1-s0','{"id": "x-2024-03-04-fast-1-s0-r1", "in_reply_to": "x-2024-03-04-fast-1-s0", "created_at": "2024-03-04T14:08:00+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-bank-1-s0-r1','2024-03-05-bank-1',0,'in_reply_to','@BankPlc',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-05T10:43:25+00:00','2024-03-05T10:47:23+00:00','x-2024-03-05-bank-1-s0','{"id": "x-2024-03-05-bank-1-s0-r1", "in_reply_to": "x-2024-03-05-bank-1-s0", "created_at": "2024-03-05T10:43:25+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-bank-1-s1-r1','2024-03-05-bank-1',1,'in_reply_to','@BankPlc',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-05T11:23:45+00:00','2024-03-05T11:27:23+00:00','x-2024-03-05-bank-1-s1','{"id": "x-2024-03-05-bank-1-s1-r1", "in_reply_to": "x-2024-03-05-bank-1-s1", "created_at": "2024-03-05T11:23:45+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-slow-1-s0-r1','2024-03-05-slow-1',0,'in_reply_to','@SlowLtd',1,'direct_message',1,'Thanks for reaching out! We''ll get back to you as soon as we can.','2024-03-05T12:00:57+00:00','2024-03-05T12:02:23+00:00','x-2024-03-05-slow-1-s0','{"id": "x-2024-03-05-slow-1-s0-r1", "in_reply_to": "x-2024-03-05-slow-1-s0", "created_at": "2024-03-05T12:00:57+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-fast-1-s0-r1','2024-03-05-fast-1',0,'in_reply_to','@FastCo',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-05T14:25:57+00:00','2024-03-05T14:27:23+00:00','x-2024-03-05-fast-1-s0','{"id": "x-2024-03-05-fast-1-s0-r1", "in_reply_to": "x-2024-03-05-fast-1-s0", "created_at": "2024-03-05T14:25:57+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-fast-1-s0-r2','2024-03-05-fast-1',0,'in_reply_to','@FastCo',1,'direct_message',0,'Hi Ben, we''d like to help. Could you send us a phone number or email address so someone from our team can reach you?','2024-03-05T14:29:18+00:00','2024-03-05T14:32:23+00:00','x-2024-03-05-fast-1-s0','{"id": "x-2024-03-05-fast-1-s0-r2", "in_reply_to": "x-2024-03-05-fast-1-s0", "created_at": "2024-03-05T14:29:18+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-05-fast-1-s1-r1','2024-03-05-fast-1',1,'in_reply_to','@FastCo',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-05T14:49:29+00:00','2024-03-05T14:52:23+00:00','x-2024-03-05-fast-1-s1','{"id": "x-2024-03-05-fast-1-s1-r1", "in_reply_to": "x-2024-03-05-fast-1-s1", "created_at": "2024-03-05T14:49:29+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-06-slow-1-s0-r1','2024-03-06-slow-1',0,'in_reply_to','@SlowLtd',1,'direct_message',1,'Thanks for reaching out! We''ll get back to you as soon as we can.','2024-03-06T17:01:19+00:00','2024-03-06T17:02:23+00:00','x-2024-03-06-slow-1-s0','{"id": "x-2024-03-06-slow-1-s0-r1", "in_reply_to": "x-2024-03-06-slow-1-s0", "created_at": "2024-03-06T17:01:19+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-07-fast-1-s0-r1','2024-03-07-fast-1',0,'in_reply_to','@FastCo',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-07T13:43:52+00:00','2024-03-07T13:47:23+00:00','x-2024-03-07-fast-1-s0','{"id": "x-2024-03-07-fast-1-s0-r1", "in_reply_to": "x-2024-03-07-fast-1-s0", "created_at": "2024-03-07T13:43:52+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-07-fast-1-s0-r2','2024-03-07-fast-1',0,'in_reply_to','@FastCo',1,'direct_message',0,'Hi Ana, we''d like to help. Could you send us a phone number or email address so someone from our team can reach you?','2024-03-07T13:53:14+00:00','2024-03-07T13:57:23+00:00','x-2024-03-07-fast-1-s0','{"id": "x-2024-03-07-fast-1-s0-r2", "in_reply_to": "x-2024-03-07-fast-1-s0", "created_at": "2024-03-07T13:53:14+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-07-fast-1-s1-r1','2024-03-07-fast-1',1,'in_reply_to','@FastCo',1,'public_reply',0,'Hi! Sorry to hear that. Could you tell us a bit more?','2024-03-07T14:04:12+00:00','2024-03-07T14:07:23+00:00','x-2024-03-07-fast-1-s1','{"id": "x-2024-03-07-fast-1-s1-r1", "in_reply_to": "x-2024-03-07-fast-1-s1", "created_at": "2024-03-07T14:04:12+00:00", "kind": "public_reply"}');
INSERT INTO "replies" VALUES('x','x-2024-03-07-slow-1-s0-r1','2024-03-07-slow-1',0,'in_reply_to','@SlowLtd',1,'direct_message',1,'Thanks for reaching out! We''ll get back to you as soon as we can.','2024-03-07T15:37:51+00:00','2024-03-07T15:42:23+00:00','x-2024-03-07-slow-1-s0','{"id": "x-2024-03-07-slow-1-s0-r1", "in_reply_to": "x-2024-03-07-slow-1-s0", "created_at": "2024-03-07T15:37:51+00:00", "kind": "direct_message"}');
INSERT INTO "replies" VALUES('x','x-2024-03-08-slow-1-s0-r1','2024-03-08-slow-1',0,'in_reply_to','@SlowLtd',1,'direct_message',1,'Thanks for reaching out! We''ll get back to you as soon as we can.','2024-03-08T16:50:06+00:00','2024-03-08T16:52:23+00:00','x-2024-03-08-slow-1-s0','{"id": "x-2024-03-08-slow-1-s0-r1", "in_reply_to": "x-2024-03-08-slow-1-s0", "created_at": "2024-03-08T16:50:06+00:00", "kind": "direct_message"}');
CREATE TABLE sends (
    probe_id    TEXT NOT NULL REFERENCES probes (probe_id),
    step        INTEGER NOT NULL,  -- 0 = the probe's message, 1.. = follow-ups
    attempt     INTEGER NOT NULL,
    state       TEXT NOT NULL,     -- intended | sent | failed | not_sent | uncertain
    intended_at TEXT NOT NULL,
    sent_at     TEXT,              -- the platform's timestamp of the post
    platform_id TEXT,
    in_reply_to TEXT,
    text        TEXT NOT NULL,
    error       TEXT,              -- what happened, in words (for people)
    retry_at    TEXT,              -- for a failed attempt worth retrying: not before this
    reason      TEXT,              -- why it was not sent (records.Reason), since schema 3
    PRIMARY KEY (probe_id, step, attempt)
);
INSERT INTO "sends" VALUES('2024-03-04-bank-1',0,1,'sent','2024-03-04T10:43:45+00:00','2024-03-04T10:43:45+00:00','x-2024-03-04-bank-1-s0',NULL,'Bank Plc do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-04-mute-1',0,1,'sent','2024-03-04T12:49:41+00:00','2024-03-04T12:49:41+00:00','x-2024-03-04-mute-1-s0',NULL,'@MuteInc the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-04-fast-1',0,1,'sent','2024-03-04T13:49:22+00:00','2024-03-04T13:49:22+00:00','x-2024-03-04-fast-1-s0',NULL,'@FastCo do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-04-slow-1',0,1,'sent','2024-03-04T13:55:23+00:00','2024-03-04T13:55:23+00:00','x-2024-03-04-slow-1-s0',NULL,'Slow Ltd the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-mute-1',0,1,'sent','2024-03-05T09:44:20+00:00','2024-03-05T09:44:20+00:00','x-2024-03-05-mute-1-s0',NULL,'@MuteInc do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-bank-1',0,1,'sent','2024-03-05T10:28:57+00:00','2024-03-05T10:28:57+00:00','x-2024-03-05-bank-1-s0',NULL,'Bank Plc the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-bank-1',1,1,'sent','2024-03-05T10:53:25+00:00','2024-03-05T10:53:25+00:00','x-2024-03-05-bank-1-s1','x-2024-03-05-bank-1-s0-r1','Still crashing after the update, what next?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-slow-1',0,1,'sent','2024-03-05T11:58:57+00:00','2024-03-05T11:58:57+00:00','x-2024-03-05-slow-1-s0',NULL,'Slow Ltd do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-fast-1',0,1,'sent','2024-03-05T14:19:44+00:00','2024-03-05T14:19:44+00:00','x-2024-03-05-fast-1-s0',NULL,'@FastCo the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-05-fast-1',1,1,'sent','2024-03-05T14:35:57+00:00','2024-03-05T14:35:57+00:00','x-2024-03-05-fast-1-s1','x-2024-03-05-fast-1-s0-r1','Still crashing after the update, what next?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-06-bank-1',0,1,'sent','2024-03-06T09:02:02+00:00','2024-03-06T09:02:02+00:00','x-2024-03-06-bank-1-s0',NULL,'Bank Plc do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-06-mute-1',0,1,'sent','2024-03-06T10:58:56+00:00','2024-03-06T10:58:56+00:00','x-2024-03-06-mute-1-s0',NULL,'@MuteInc the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-06-fast-1',0,1,'sent','2024-03-06T14:08:55+00:00','2024-03-06T14:08:55+00:00','x-2024-03-06-fast-1-s0',NULL,'@FastCo do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-06-slow-1',0,1,'sent','2024-03-06T16:59:19+00:00','2024-03-06T16:59:19+00:00','x-2024-03-06-slow-1-s0',NULL,'Slow Ltd the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-07-mute-1',0,1,'sent','2024-03-07T10:22:18+00:00','2024-03-07T10:22:18+00:00','x-2024-03-07-mute-1-s0',NULL,'@MuteInc do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-07-bank-1',0,1,'sent','2024-03-07T10:32:17+00:00','2024-03-07T10:32:17+00:00','x-2024-03-07-bank-1-s0',NULL,'Bank Plc the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-07-fast-1',0,1,'sent','2024-03-07T13:29:02+00:00','2024-03-07T13:29:02+00:00','x-2024-03-07-fast-1-s0',NULL,'@FastCo the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-07-fast-1',1,1,'sent','2024-03-07T13:53:52+00:00','2024-03-07T13:53:52+00:00','x-2024-03-07-fast-1-s1','x-2024-03-07-fast-1-s0-r1','Still crashing after the update, what next?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-07-slow-1',0,1,'sent','2024-03-07T15:35:51+00:00','2024-03-07T15:35:51+00:00','x-2024-03-07-slow-1-s0',NULL,'Slow Ltd do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-08-fast-1',0,1,'sent','2024-03-08T09:51:11+00:00','2024-03-08T09:51:11+00:00','x-2024-03-08-fast-1-s0',NULL,'@FastCo do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-08-mute-1',0,1,'sent','2024-03-08T12:19:46+00:00','2024-03-08T12:19:46+00:00','x-2024-03-08-mute-1-s0',NULL,'@MuteInc the app crashes when I pay',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-08-bank-1',0,1,'sent','2024-03-08T13:59:54+00:00','2024-03-08T13:59:54+00:00','x-2024-03-08-bank-1-s0',NULL,'Bank Plc do you deliver on Sundays?',NULL,NULL,NULL);
INSERT INTO "sends" VALUES('2024-03-08-slow-1',0,1,'sent','2024-03-08T16:48:06+00:00','2024-03-08T16:48:06+00:00','x-2024-03-08-slow-1-s0',NULL,'Slow Ltd the app crashes when I pay',NULL,NULL,NULL);
CREATE INDEX sends_by_platform_id ON sends (platform_id);
CREATE INDEX replies_by_probe ON replies (probe_id);
COMMIT;
