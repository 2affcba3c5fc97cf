/*
 * PortalImportReader: the import file's header as the stack's reader (shared/portal_import/domain/reader.py) reads it,
 * in the browser, for the console's New import page: its encoding and delimiter, the header's columns, the ContactId
 * and Role columns as the stack maps them (auto-mapping, or Map Fields), the first data rows, and the stack's own
 * sentence when the stack would refuse the file as a whole at its header.
 *
 * One rule set, two implementations: tests/e2e/test_console_reader.py runs this file in Chromium against the Python
 * reader on every file of the test corpus and on random headers, and fails on any difference.
 *
 * Plain ES2020, no dependency, no network: load it with <script src>, then call
 * PortalImportReader.readHeader(bytes, mapping). `bytes` is the beginning of the file (the console passes its first
 * 64 KiB: file.slice(0, 65536)); a slice that long is taken to be cut there, and its last, cut, record is left out.
 */
(function (global) {
  "use strict";

  const PREFIX_BYTES = 64 * 1024;
  const BINARY_CHECK_BYTES = 8 * 1024;
  const MAX_CONTROL_SHARE = 0.05;
  const MAX_FIELD_CHARS = 32000; // Limits().max_field_chars, the stack's MaxFieldChars parameter by default
  const SHOWN_COLUMNS = 10;
  const SHOWN_NAME_CHARS = 40;
  const PREVIEW_ROWS = 5;
  const DELIMITERS = [",", ";", "\t", "|"];
  const CONTACT_ID = "ContactId";
  const ROLE = "Role";
  const MAPPING_METADATA = { ContactId: "contactid-column", Role: "role-column" };
  const MAPPING_OPTIONS = { ContactId: "--contact-id-column", Role: "--role-column" };
  const FIELD_CONTENTS = { ContactId: "the Contact IDs", Role: "the Role names" };

  const UTF32 =
    "The file is UTF-32 text, which cannot be imported; save it from your spreadsheet as CSV UTF-8 " +
    '(or as "Unicode text", which is UTF-16) and upload it again.';
  const UTF16_WITHOUT_BOM =
    "The file looks like UTF-16 text without a byte order mark, which cannot be read reliably; " +
    "save it from your spreadsheet as CSV UTF-8 (or as Unicode text) and upload it again.";
  const BINARY =
    "The file is not a CSV text file (it holds binary data, as a workbook, an archive or an image does); " +
    "save it from your spreadsheet as CSV UTF-8 and upload it again.";
  const EMPTY = "The file is empty; add a header row ContactId,Role and one row per Contact, then upload it again.";
  const EMPTY_FIRST_ROW =
    "The first row of the file is empty; put the header row ContactId,Role on the first line " +
    "and upload the file again.";
  // Python's format(number, ",")
  const grouped = (number) => String(number).replace(/\B(?=(\d{3})+$)/g, ",");
  const headerFieldTooLong = (limit) =>
    `Row 1 has a value longer than ${grouped(limit)} characters, often because a quote is never closed; ` +
    "fix that row and upload the file again.";
  const HEADER_QUOTE_NEVER_CLOSED =
    'Row 1 opens a quote (") that is never closed, so every line after it would be read ' +
    "as part of that row; close the quote or remove it and upload the file again.";

  // --- Python's str predicates and casefold, as the Python that runs the stack has them -------------------------

  // str.isspace()
  const SPACES = new Set(
    [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
      0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]
  );
  // Code points for which str.isprintable() is false (hex ranges), generated from Python's unicodedata: the
  // browser's Unicode version may differ from Python's.
  const NOT_PRINTABLE =
    "0-1f,7f-a0,ad,378-379,380-383,38b,38d,3a2,530,557-558,58b-58c,590,5c8-5cf,5eb-5ee,5f5-605,61c,6dd,70e-70f,74b-74" +
    "c,7b2-7bf,7fb-7fc,82e-82f,83f,85c-85d,85f,86b-86f,88f-897,8e2,984,98d-98e,991-992,9a9,9b1,9b3-9b5,9ba-9bb,9c5-9c" +
    "6,9c9-9ca,9cf-9d6,9d8-9db,9de,9e4-9e5,9ff-a00,a04,a0b-a0e,a11-a12,a29,a31,a34,a37,a3a-a3b,a3d,a43-a46,a49-a4a,a4" +
    "e-a50,a52-a58,a5d,a5f-a65,a77-a80,a84,a8e,a92,aa9,ab1,ab4,aba-abb,ac6,aca,ace-acf,ad1-adf,ae4-ae5,af2-af8,b00,b0" +
    "4,b0d-b0e,b11-b12,b29,b31,b34,b3a-b3b,b45-b46,b49-b4a,b4e-b54,b58-b5b,b5e,b64-b65,b78-b81,b84,b8b-b8d,b91,b96-b9" +
    "8,b9b,b9d,ba0-ba2,ba5-ba7,bab-bad,bba-bbd,bc3-bc5,bc9,bce-bcf,bd1-bd6,bd8-be5,bfb-bff,c0d,c11,c29,c3a-c3b,c45,c4" +
    "9,c4e-c54,c57,c5b-c5c,c5e-c5f,c64-c65,c70-c76,c8d,c91,ca9,cb4,cba-cbb,cc5,cc9,cce-cd4,cd7-cdc,cdf,ce4-ce5,cf0,cf" +
    "3-cff,d0d,d11,d45,d49,d50-d53,d64-d65,d80,d84,d97-d99,db2,dbc,dbe-dbf,dc7-dc9,dcb-dce,dd5,dd7,de0-de5,df0-df1,df" +
    "5-e00,e3b-e3e,e5c-e80,e83,e85,e8b,ea4,ea6,ebe-ebf,ec5,ec7,ece-ecf,eda-edb,ee0-eff,f48,f6d-f70,f98,fbd,fcd,fdb-ff" +
    "f,10c6,10c8-10cc,10ce-10cf,1249,124e-124f,1257,1259,125e-125f,1289,128e-128f,12b1,12b6-12b7,12bf,12c1,12c6-12c7," +
    "12d7,1311,1316-1317,135b-135c,137d-137f,139a-139f,13f6-13f7,13fe-13ff,1680,169d-169f,16f9-16ff,1716-171e,1737-17" +
    "3f,1754-175f,176d,1771,1774-177f,17de-17df,17ea-17ef,17fa-17ff,180e,181a-181f,1879-187f,18ab-18af,18f6-18ff,191f" +
    ",192c-192f,193c-193f,1941-1943,196e-196f,1975-197f,19ac-19af,19ca-19cf,19db-19dd,1a1c-1a1d,1a5f,1a7d-1a7e,1a8a-1" +
    "a8f,1a9a-1a9f,1aae-1aaf,1acf-1aff,1b4d-1b4f,1b7f,1bf4-1bfb,1c38-1c3a,1c4a-1c4c,1c89-1c8f,1cbb-1cbc,1cc8-1ccf,1cf" +
    "b-1cff,1f16-1f17,1f1e-1f1f,1f46-1f47,1f4e-1f4f,1f58,1f5a,1f5c,1f5e,1f7e-1f7f,1fb5,1fc5,1fd4-1fd5,1fdc,1ff0-1ff1," +
    "1ff5,1fff-200f,2028-202f,205f-206f,2072-2073,208f,209d-209f,20c1-20cf,20f1-20ff,218c-218f,2427-243f,244b-245f,2b" +
    "74-2b75,2b96,2cf4-2cf8,2d26,2d28-2d2c,2d2e-2d2f,2d68-2d6e,2d71-2d7e,2d97-2d9f,2da7,2daf,2db7,2dbf,2dc7,2dcf,2dd7" +
    ",2ddf,2e5e-2e7f,2e9a,2ef4-2eff,2fd6-2fef,2ffc-3000,3040,3097-3098,3100-3104,3130,318f,31e4-31ef,321f,a48d-a48f,a" +
    "4c7-a4cf,a62c-a63f,a6f8-a6ff,a7cb-a7cf,a7d2,a7d4,a7da-a7f1,a82d-a82f,a83a-a83f,a878-a87f,a8c6-a8cd,a8da-a8df,a95" +
    "4-a95e,a97d-a97f,a9ce,a9da-a9dd,a9ff,aa37-aa3f,aa4e-aa4f,aa5a-aa5b,aac3-aada,aaf7-ab00,ab07-ab08,ab0f-ab10,ab17-" +
    "ab1f,ab27,ab2f,ab6c-ab6f,abee-abef,abfa-abff,d7a4-d7af,d7c7-d7ca,d7fc-f8ff,fa6e-fa6f,fada-faff,fb07-fb12,fb18-fb" +
    "1c,fb37,fb3d,fb3f,fb42,fb45,fbc3-fbd2,fd90-fd91,fdc8-fdce,fdd0-fdef,fe1a-fe1f,fe53,fe67,fe6c-fe6f,fe75,fefd-ff00" +
    ",ffbf-ffc1,ffc8-ffc9,ffd0-ffd1,ffd8-ffd9,ffdd-ffdf,ffe7,ffef-fffb,fffe-ffff,1000c,10027,1003b,1003e,1004e-1004f," +
    "1005e-1007f,100fb-100ff,10103-10106,10134-10136,1018f,1019d-1019f,101a1-101cf,101fe-1027f,1029d-1029f,102d1-102d" +
    "f,102fc-102ff,10324-1032c,1034b-1034f,1037b-1037f,1039e,103c4-103c7,103d6-103ff,1049e-1049f,104aa-104af,104d4-10" +
    "4d7,104fc-104ff,10528-1052f,10564-1056e,1057b,1058b,10593,10596,105a2,105b2,105ba,105bd-105ff,10737-1073f,10756-" +
    "1075f,10768-1077f,10786,107b1,107bb-107ff,10806-10807,10809,10836,10839-1083b,1083d-1083e,10856,1089f-108a6,108b" +
    "0-108df,108f3,108f6-108fa,1091c-1091e,1093a-1093e,10940-1097f,109b8-109bb,109d0-109d1,10a04,10a07-10a0b,10a14,10" +
    "a18,10a36-10a37,10a3b-10a3e,10a49-10a4f,10a59-10a5f,10aa0-10abf,10ae7-10aea,10af7-10aff,10b36-10b38,10b56-10b57," +
    "10b73-10b77,10b92-10b98,10b9d-10ba8,10bb0-10bff,10c49-10c7f,10cb3-10cbf,10cf3-10cf9,10d28-10d2f,10d3a-10e5f,10e7" +
    "f,10eaa,10eae-10eaf,10eb2-10eff,10f28-10f2f,10f5a-10f6f,10f8a-10faf,10fcc-10fdf,10ff7-10fff,1104e-11051,11076-11" +
    "07e,110bd,110c3-110cf,110e9-110ef,110fa-110ff,11135,11148-1114f,11177-1117f,111e0,111f5-111ff,11212,1123f-1127f," +
    "11287,11289,1128e,1129e,112aa-112af,112eb-112ef,112fa-112ff,11304,1130d-1130e,11311-11312,11329,11331,11334,1133" +
    "a,11345-11346,11349-1134a,1134e-1134f,11351-11356,11358-1135c,11364-11365,1136d-1136f,11375-113ff,1145c,11462-11" +
    "47f,114c8-114cf,114da-1157f,115b6-115b7,115de-115ff,11645-1164f,1165a-1165f,1166d-1167f,116ba-116bf,116ca-116ff," +
    "1171b-1171c,1172c-1172f,11747-117ff,1183c-1189f,118f3-118fe,11907-11908,1190a-1190b,11914,11917,11936,11939-1193" +
    "a,11947-1194f,1195a-1199f,119a8-119a9,119d8-119d9,119e5-119ff,11a48-11a4f,11aa3-11aaf,11af9-11bff,11c09,11c37,11" +
    "c46-11c4f,11c6d-11c6f,11c90-11c91,11ca8,11cb7-11cff,11d07,11d0a,11d37-11d39,11d3b,11d3e,11d48-11d4f,11d5a-11d5f," +
    "11d66,11d69,11d8f,11d92,11d99-11d9f,11daa-11edf,11ef9-11faf,11fb1-11fbf,11ff2-11ffe,1239a-123ff,1246f,12475-1247" +
    "f,12544-12f8f,12ff3-12fff,1342f-143ff,14647-167ff,16a39-16a3f,16a5f,16a6a-16a6d,16abf,16aca-16acf,16aee-16aef,16" +
    "af6-16aff,16b46-16b4f,16b5a,16b62,16b78-16b7c,16b90-16e3f,16e9b-16eff,16f4b-16f4e,16f88-16f8e,16fa0-16fdf,16fe5-" +
    "16fef,16ff2-16fff,187f8-187ff,18cd6-18cff,18d09-1afef,1aff4,1affc,1afff,1b123-1b14f,1b153-1b163,1b168-1b16f,1b2f" +
    "c-1bbff,1bc6b-1bc6f,1bc7d-1bc7f,1bc89-1bc8f,1bc9a-1bc9b,1bca0-1ceff,1cf2e-1cf2f,1cf47-1cf4f,1cfc4-1cfff,1d0f6-1d" +
    "0ff,1d127-1d128,1d173-1d17a,1d1eb-1d1ff,1d246-1d2df,1d2f4-1d2ff,1d357-1d35f,1d379-1d3ff,1d455,1d49d,1d4a0-1d4a1," +
    "1d4a3-1d4a4,1d4a7-1d4a8,1d4ad,1d4ba,1d4bc,1d4c4,1d506,1d50b-1d50c,1d515,1d51d,1d53a,1d53f,1d545,1d547-1d549,1d55" +
    "1,1d6a6-1d6a7,1d7cc-1d7cd,1da8c-1da9a,1daa0,1dab0-1deff,1df1f-1dfff,1e007,1e019-1e01a,1e022,1e025,1e02b-1e0ff,1e" +
    "12d-1e12f,1e13e-1e13f,1e14a-1e14d,1e150-1e28f,1e2af-1e2bf,1e2fa-1e2fe,1e300-1e7df,1e7e7,1e7ec,1e7ef,1e7ff,1e8c5-" +
    "1e8c6,1e8d7-1e8ff,1e94c-1e94f,1e95a-1e95d,1e960-1ec70,1ecb5-1ed00,1ed3e-1edff,1ee04,1ee20,1ee23,1ee25-1ee26,1ee2" +
    "8,1ee33,1ee38,1ee3a,1ee3c-1ee41,1ee43-1ee46,1ee48,1ee4a,1ee4c,1ee50,1ee53,1ee55-1ee56,1ee58,1ee5a,1ee5c,1ee5e,1e" +
    "e60,1ee63,1ee65-1ee66,1ee6b,1ee73,1ee78,1ee7d,1ee7f,1ee8a,1ee9c-1eea0,1eea4,1eeaa,1eebc-1eeef,1eef2-1efff,1f02c-" +
    "1f02f,1f094-1f09f,1f0af-1f0b0,1f0c0,1f0d0,1f0f6-1f0ff,1f1ae-1f1e5,1f203-1f20f,1f23c-1f23f,1f249-1f24f,1f252-1f25" +
    "f,1f266-1f2ff,1f6d8-1f6dc,1f6ed-1f6ef,1f6fd-1f6ff,1f774-1f77f,1f7d9-1f7df,1f7ec-1f7ef,1f7f1-1f7ff,1f80c-1f80f,1f" +
    "848-1f84f,1f85a-1f85f,1f888-1f88f,1f8ae-1f8af,1f8b2-1f8ff,1fa54-1fa5f,1fa6e-1fa6f,1fa75-1fa77,1fa7d-1fa7f,1fa87-" +
    "1fa8f,1faad-1faaf,1fabb-1fabf,1fac6-1facf,1fada-1fadf,1fae8-1faef,1faf7-1faff,1fb93,1fbcb-1fbef,1fbfa-1ffff,2a6e" +
    "0-2a6ff,2b739-2b73f,2b81e-2b81f,2cea2-2ceaf,2ebe1-2f7ff,2fa1e-2ffff,3134b-e00ff,e01f0-10ffff";
  // str.casefold() where it changes a character: "start[+count[*2]]:delta" (delta added to each) or
  // "code=code.code..." (full folding into several characters), generated from Python.
  const CASEFOLD =
    "41+1a:20;b5:307;c0+17:20;d8+7:20;df=73.73;100+18*2:1;130=69.307;132+3*2:1;139+8*2:1;149=2bc.6e;14a+17*2:1;178:-7" +
    "9;179+3*2:1;17f:-10c;181:d2;182+2*2:1;186:ce;187:1;189+2:cd;18b:1;18e:4f;18f:ca;190:cb;191:1;193:cd;194:cf;196:d" +
    "3;197:d1;198:1;19c:d3;19d:d5;19f:d6;1a0+3*2:1;1a6:da;1a7:1;1a9:da;1ac:1;1ae:da;1af:1;1b1+2:d9;1b3+2*2:1;1b7:db;1" +
    "b8:1;1bc:1;1c4:2;1c5:1;1c7:2;1c8:1;1ca:2;1cb+9*2:1;1de+9*2:1;1f0=6a.30c;1f1:2;1f2+2*2:1;1f6:-61;1f7:-38;1f8+14*2" +
    ":1;220:-82;222+9*2:1;23a:2a2b;23b:1;23d:-a3;23e:2a28;241:1;243:-c3;244:45;245:47;246+5*2:1;345:74;370+2*2:1;376:" +
    "1;37f:74;386:26;388+3:25;38c:40;38e+2:3f;390=3b9.308.301;391+11:20;3a3+9:20;3b0=3c5.308.301;3c2:1;3cf:8;3d0:-1e;" +
    "3d1:-19;3d5:-f;3d6:-16;3d8+c*2:1;3f0:-36;3f1:-30;3f4:-3c;3f5:-40;3f7:1;3f9:-7;3fa:1;3fd+3:-82;400+10:50;410+20:2" +
    "0;460+11*2:1;48a+1b*2:1;4c0:f;4c1+7*2:1;4d0+30*2:1;531+26:30;587=565.582;10a0+26:1c60;10c7:1c60;10cd:1c60;13f8+6" +
    ":-8;1c80:-184e;1c81:-184d;1c82:-1844;1c83+2:-1842;1c85:-1843;1c86:-183c;1c87:-1824;1c88:89c3;1c90+2b:-bc0;1cbd+3" +
    ":-bc0;1e00+4b*2:1;1e96=68.331;1e97=74.308;1e98=77.30a;1e99=79.30a;1e9a=61.2be;1e9b:-3a;1e9e=73.73;1ea0+30*2:1;1f" +
    "08+8:-8;1f18+6:-8;1f28+8:-8;1f38+8:-8;1f48+6:-8;1f50=3c5.313;1f52=3c5.313.300;1f54=3c5.313.301;1f56=3c5.313.342;" +
    "1f59+4*2:-8;1f68+8:-8;1f80=1f00.3b9;1f81=1f01.3b9;1f82=1f02.3b9;1f83=1f03.3b9;1f84=1f04.3b9;1f85=1f05.3b9;1f86=1" +
    "f06.3b9;1f87=1f07.3b9;1f88=1f00.3b9;1f89=1f01.3b9;1f8a=1f02.3b9;1f8b=1f03.3b9;1f8c=1f04.3b9;1f8d=1f05.3b9;1f8e=1" +
    "f06.3b9;1f8f=1f07.3b9;1f90=1f20.3b9;1f91=1f21.3b9;1f92=1f22.3b9;1f93=1f23.3b9;1f94=1f24.3b9;1f95=1f25.3b9;1f96=1" +
    "f26.3b9;1f97=1f27.3b9;1f98=1f20.3b9;1f99=1f21.3b9;1f9a=1f22.3b9;1f9b=1f23.3b9;1f9c=1f24.3b9;1f9d=1f25.3b9;1f9e=1" +
    "f26.3b9;1f9f=1f27.3b9;1fa0=1f60.3b9;1fa1=1f61.3b9;1fa2=1f62.3b9;1fa3=1f63.3b9;1fa4=1f64.3b9;1fa5=1f65.3b9;1fa6=1" +
    "f66.3b9;1fa7=1f67.3b9;1fa8=1f60.3b9;1fa9=1f61.3b9;1faa=1f62.3b9;1fab=1f63.3b9;1fac=1f64.3b9;1fad=1f65.3b9;1fae=1" +
    "f66.3b9;1faf=1f67.3b9;1fb2=1f70.3b9;1fb3=3b1.3b9;1fb4=3ac.3b9;1fb6=3b1.342;1fb7=3b1.342.3b9;1fb8+2:-8;1fba+2:-4a" +
    ";1fbc=3b1.3b9;1fbe:-1c05;1fc2=1f74.3b9;1fc3=3b7.3b9;1fc4=3ae.3b9;1fc6=3b7.342;1fc7=3b7.342.3b9;1fc8+4:-56;1fcc=3" +
    "b7.3b9;1fd2=3b9.308.300;1fd3=3b9.308.301;1fd6=3b9.342;1fd7=3b9.308.342;1fd8+2:-8;1fda+2:-64;1fe2=3c5.308.300;1fe" +
    "3=3c5.308.301;1fe4=3c1.313;1fe6=3c5.342;1fe7=3c5.308.342;1fe8+2:-8;1fea+2:-70;1fec:-7;1ff2=1f7c.3b9;1ff3=3c9.3b9" +
    ";1ff4=3ce.3b9;1ff6=3c9.342;1ff7=3c9.342.3b9;1ff8+2:-80;1ffa+2:-7e;1ffc=3c9.3b9;2126:-1d5d;212a:-20bf;212b:-2046;" +
    "2132:1c;2160+10:10;2183:1;24b6+1a:1a;2c00+30:30;2c60:1;2c62:-29f7;2c63:-ee6;2c64:-29e7;2c67+3*2:1;2c6d:-2a1c;2c6" +
    "e:-29fd;2c6f:-2a1f;2c70:-2a1e;2c72:1;2c75:1;2c7e+2:-2a3f;2c80+32*2:1;2ceb+2*2:1;2cf2:1;a640+17*2:1;a680+e*2:1;a7" +
    "22+7*2:1;a732+1f*2:1;a779+2*2:1;a77d:-8a04;a77e+5*2:1;a78b:1;a78d:-a528;a790+2*2:1;a796+a*2:1;a7aa:-a544;a7ab:-a" +
    "54f;a7ac:-a54b;a7ad:-a541;a7ae:-a544;a7b0:-a512;a7b1:-a52a;a7b2:-a515;a7b3:3a0;a7b4+8*2:1;a7c4:-30;a7c5:-a543;a7" +
    "c6:-8a38;a7c7+2*2:1;a7d0:1;a7d6+2*2:1;a7f5:1;ab70+50:-97d0;fb00=66.66;fb01=66.69;fb02=66.6c;fb03=66.66.69;fb04=6" +
    "6.66.6c;fb05=73.74;fb06=73.74;fb13=574.576;fb14=574.565;fb15=574.56b;fb16=57e.576;fb17=574.56d;ff21+1a:20;10400+" +
    "28:28;104b0+24:28;10570+b:27;1057c+f:27;1058c+7:27;10594+2:27;10c80+33:40;118a0+20:20;16e40+20:20;1e900+22:22";

  const notPrintable = (function () {
    const starts = [];
    const ends = [];
    for (const item of NOT_PRINTABLE.split(",")) {
      const [a, b] = item.split("-");
      starts.push(parseInt(a, 16));
      ends.push(parseInt(b === undefined ? a : b, 16));
    }
    return function (cp) {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (cp < starts[mid]) hi = mid - 1;
        else if (cp > ends[mid]) lo = mid + 1;
        else return true;
      }
      return false;
    };
  })();

  const folded = (function () {
    const map = new Map();
    for (const item of CASEFOLD.split(";")) {
      if (item.includes("=")) {
        const [cp, to] = item.split("=");
        map.set(parseInt(cp, 16), String.fromCodePoint(...to.split(".").map((x) => parseInt(x, 16))));
        continue;
      }
      const [range, delta] = item.split(":");
      const [startText, run] = range.split("+");
      const [countText, stepText] = (run || "1").split("*");
      const start = parseInt(startText, 16);
      const count = parseInt(countText, 16);
      const step = stepText ? parseInt(stepText, 10) : 1;
      const by = parseInt(delta, 16);
      for (let n = 0; n < count; n++) {
        const cp = start + n * step;
        map.set(cp, String.fromCodePoint(cp + by));
      }
    }
    return map;
  })();

  const isSpace = (char) => SPACES.has(char.codePointAt(0));
  const isPrintable = (char) => !notPrintable(char.codePointAt(0));
  const casefold = (text) => Array.from(text, (char) => folded.get(char.codePointAt(0)) ?? char).join("");
  const chars = (text) => Array.from(text); // code points, as Python counts a str

  // str.strip(chars) / str.strip()
  function strip(text, isStripped) {
    const list = chars(text);
    let start = 0;
    let end = list.length;
    while (start < end && isStripped(list[start])) start++;
    while (end > start && isStripped(list[end - 1])) end--;
    return list.slice(start, end).join("");
  }
  // str.split() with no separator
  function splitWhite(text) {
    const words = [];
    let word = "";
    for (const char of text) {
      if (isSpace(char)) {
        if (word) words.push(word);
        word = "";
      } else word += char;
    }
    if (word) words.push(word);
    return words;
  }

  // --- shown.py: visible ---------------------------------------------------------------------------------------

  const NAMED_ESCAPES = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  const hex = (code, width) => code.toString(16).padStart(width, "0");
  function escape(char) {
    if (NAMED_ESCAPES[char] !== undefined) return NAMED_ESCAPES[char];
    const code = char.codePointAt(0);
    if (code < 0x100) return "\\x" + hex(code, 2);
    if (code < 0x10000) return "\\u" + hex(code, 4);
    return "\\U" + hex(code, 8);
  }
  const visible = (text) => Array.from(text, (char) => (isPrintable(char) ? char : escape(char))).join("");

  // --- bytes to text -------------------------------------------------------------------------------------------

  // Windows-1252's 0x80-0x9F; its five undefined bytes read as Latin-1 (reader.py's _latin1_for_undefined).
  const CP1252_HIGH = [
    0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d,
    0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d,
    0x17e, 0x178,
  ];

  function latin1(bytes) {
    let text = "";
    for (let start = 0; start < bytes.length; start += 8192) {
      text += String.fromCharCode.apply(null, bytes.subarray(start, start + 8192));
    }
    return text;
  }

  function cp1252(bytes) {
    let text = "";
    for (const byte of bytes) {
      text += String.fromCharCode(byte >= 0x80 && byte < 0xa0 ? CP1252_HIGH[byte - 0x80] : byte);
    }
    return text;
  }

  // Whether the bytes are UTF-8 as Python's incremental decoder has it: when more may follow (not final), an
  // incomplete last sequence passes if it could still be completed, and so does a cut surrogate (ED A0-BF), which
  // CPython leaves for later where a browser refuses it at once.
  function isUtf8(bytes, final) {
    const n = bytes.length;
    let body = bytes;
    let stream = !final;
    if (!final && n >= 2 && bytes[n - 2] === 0xed && bytes[n - 1] >= 0xa0 && bytes[n - 1] <= 0xbf) {
      body = bytes.subarray(0, n - 2);
      stream = false;
    }
    try {
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(body, { stream });
      return true;
    } catch (error) {
      return false;
    }
  }

  // reader.py's _decoded_line: a physical line held as Latin-1 (one char per byte), as UTF-8 when it is, else as
  // Windows-1252.
  function decodedLine(raw) {
    if (!/[^\x00-\x7f]/.test(raw)) return raw;
    const bytes = Uint8Array.from(raw, (char) => char.charCodeAt(0));
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch (error) {
      return cp1252(bytes);
    }
  }

  // --- refusals of the whole file by its bytes ----------------------------------------------------------------

  class Refused extends Error {}

  const isControlByte = (byte) => (byte < 0x09 || (byte >= 0x0e && byte < 0x20) || byte === 0x7f);

  function refuseBinary(sample) {
    let controls = 0;
    for (const byte of sample) if (isControlByte(byte)) controls++;
    if (controls <= sample.length * MAX_CONTROL_SHARE) return;
    const zeros = (start, step) => {
      let count = 0;
      for (let index = start; index < sample.length; index += step) if (sample[index] === 0) count++;
      return count;
    };
    if (sample.length >= 8) {
      let lanes = 0;
      for (let lane = 0; lane < 4; lane++) if (zeros(lane, 4) * 4 >= sample.length * 0.9) lanes++;
      if (lanes >= 3) throw new Refused(UTF32);
    }
    if (sample.length >= 4 && Math.max(zeros(0, 2), zeros(1, 2)) * 2 >= sample.length * 0.9) {
      throw new Refused(UTF16_WITHOUT_BOM);
    }
    throw new Refused(BINARY);
  }

  const startsWith = (bytes, prefix) => prefix.every((byte, index) => bytes[index] === byte);

  function encodingOf(prefix, complete) {
    if (startsWith(prefix, [0xff, 0xfe, 0, 0]) || startsWith(prefix, [0, 0, 0xfe, 0xff])) throw new Refused(UTF32);
    if (startsWith(prefix, [0xff, 0xfe]) || startsWith(prefix, [0xfe, 0xff])) return "utf-16";
    refuseBinary(prefix.subarray(0, BINARY_CHECK_BYTES));
    if (startsWith(prefix, [0xef, 0xbb, 0xbf])) return "utf-8-sig";
    return isUtf8(prefix.subarray(0, PREFIX_BYTES), complete) ? "utf-8" : "cp1252";
  }

  // --- lines and CSV records, as io's newline="" and the csv module make them ------------------------------------

  // Physical lines with their line ends (\r\n, \r or \n); `rest` is what follows the last line end.
  function physicalLines(text) {
    const lines = [];
    const pattern = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      lines.push(text.slice(start, match.index + match[0].length));
      start = match.index + match[0].length;
    }
    return { lines, rest: text.slice(start) };
  }

  class CsvError extends Error {}

  const START_RECORD = 0;
  const START_FIELD = 1;
  const IN_FIELD = 2;
  const IN_QUOTED_FIELD = 3;
  const QUOTE_IN_QUOTED_FIELD = 4;
  const EAT_CRNL = 5;
  const EOL = null;

  // The csv module's reader (Modules/_csv.c) with the stack's dialect: the default one, its delimiter sniffed.
  class CsvReader {
    constructor(lines, delimiter, fieldLimit) {
      this.lines = lines;
      this.delimiter = delimiter;
      this.fieldLimit = fieldLimit;
      this.index = 0;
      this.ended = false; // asked for a line after the last one (reader.py's _Lines.ended)
    }

    next() {
      const fields = [];
      let field = "";
      let length = 0;
      let state = START_RECORD;
      const save = () => {
        fields.push(field);
        field = "";
        length = 0;
      };
      const add = (char) => {
        if (length >= this.fieldLimit) throw new CsvError(`field larger than field limit (${this.fieldLimit})`);
        field += char;
        length++;
      };
      const isEnd = (char) => char === "\n" || char === "\r" || char === EOL;
      const process = (char) => {
        switch (state) {
          case START_RECORD:
            if (char === EOL) return;
            if (char === "\n" || char === "\r") {
              state = EAT_CRNL;
              return;
            }
            state = START_FIELD;
          // falls through
          case START_FIELD:
            if (isEnd(char)) {
              save();
              state = char === EOL ? START_RECORD : EAT_CRNL;
            } else if (char === '"') state = IN_QUOTED_FIELD;
            else if (char === this.delimiter) save();
            else {
              add(char);
              state = IN_FIELD;
            }
            return;
          case IN_FIELD:
            if (isEnd(char)) {
              save();
              state = char === EOL ? START_RECORD : EAT_CRNL;
            } else if (char === this.delimiter) {
              save();
              state = START_FIELD;
            } else add(char);
            return;
          case IN_QUOTED_FIELD:
            if (char === EOL) return;
            if (char === '"') state = QUOTE_IN_QUOTED_FIELD;
            else add(char);
            return;
          case QUOTE_IN_QUOTED_FIELD:
            if (char === '"') {
              add(char);
              state = IN_QUOTED_FIELD;
            } else if (char === this.delimiter) {
              save();
              state = START_FIELD;
            } else if (isEnd(char)) {
              save();
              state = char === EOL ? START_RECORD : EAT_CRNL;
            } else {
              add(char);
              state = IN_FIELD;
            }
            return;
          case EAT_CRNL:
            if (char === "\n" || char === "\r") return;
            if (char === EOL) {
              state = START_RECORD;
              return;
            }
            throw new CsvError("new-line character seen in unquoted field - do you need to open the file with newline=''?");
        }
      };
      do {
        if (this.index >= this.lines.length) {
          this.ended = true;
          if (length !== 0 || state === IN_QUOTED_FIELD) {
            save();
            break;
          }
          return null;
        }
        for (const char of this.lines[this.index++]) process(char);
        process(EOL);
      } while (state !== START_RECORD);
      return fields;
    }
  }

  // --- the header: delimiter and columns ---------------------------------------------------------------------

  function headerRecord(text) {
    let quoted = false;
    for (let index = 0; index < text.length; index++) {
      const char = text[index];
      if (char === '"') quoted = !quoted;
      else if ((char === "\r" || char === "\n") && !quoted) return text.slice(0, index);
    }
    return text;
  }

  function delimiterCounts(headerLine) {
    const counts = { ",": 0, ";": 0, "\t": 0, "|": 0 };
    let quoted = false;
    for (const char of headerLine) {
      if (char === '"') quoted = !quoted;
      else if (!quoted && char in counts) counts[char]++;
    }
    return counts;
  }

  function mapsHeader(headerLine, delimiter, mapping) {
    try {
      const names = new CsvReader([headerLine], delimiter, Infinity).next() || [];
      mapHeader(names, mapping);
    } catch (error) {
      if (error instanceof CsvError || error instanceof Refused) return false;
      throw error;
    }
    return true;
  }

  function sniffDelimiter(headerLine, mapping) {
    const counts = delimiterCounts(headerLine);
    const ranked = DELIMITERS.filter((d) => counts[d]).sort((a, b) => counts[b] - counts[a]);
    for (const delimiter of ranked) if (mapsHeader(headerLine, delimiter, mapping)) return delimiter;
    return ranked.length ? ranked[0] : ",";
  }

  const normalizeName = (name) =>
    casefold(
      Array.from(name)
        .filter((char) => !isSpace(char) && char !== "_" && char !== "-" && char !== "\ufeff")
        .join("")
    );

  const FIELDS_BY_NAME = new Map([
    [normalizeName(CONTACT_ID), CONTACT_ID],
    [normalizeName(ROLE), ROLE],
  ]);

  function shownName(name) {
    const clean = splitWhite(name).join(" ");
    const list = chars(clean);
    if (list.length > SHOWN_NAME_CHARS) return visible(list.slice(0, SHOWN_NAME_CHARS).join("")) + "...";
    return visible(clean);
  }

  function shownColumns(names) {
    const shown = names.slice(0, SHOWN_COLUMNS).map((name) => shownName(name.replaceAll("\ufeff", "")) || "(blank)");
    let text = shown.join(", ");
    if (names.length > SHOWN_COLUMNS) text += ` and ${names.length - SHOWN_COLUMNS} more`;
    return text;
  }

  // ColumnMapping.named(): the header named for each field the mapping names one for (null/undefined: auto-mapped).
  function named(mapping) {
    const pairs = [];
    if (mapping && mapping.contactId !== undefined && mapping.contactId !== null) {
      pairs.push([CONTACT_ID, String(mapping.contactId)]);
    }
    if (mapping && mapping.role !== undefined && mapping.role !== null) pairs.push([ROLE, String(mapping.role)]);
    return new Map(pairs);
  }

  function twoColumns(names, field, first, second) {
    return new Refused(
      `The file has two ${field} columns (column ${first + 1} '${shownName(names[first])}' ` +
        `and column ${second + 1} '${shownName(names[second])}'); keep one of them and upload the file again.`
    );
  }

  function namedColumn(names, field, name) {
    const key = normalizeName(name);
    const matches = [];
    names.forEach((header, index) => {
      if (normalizeName(header) === key) matches.push(index);
    });
    if (!matches.length) {
      throw new Refused(
        `The ${MAPPING_METADATA[field]} metadata (${MAPPING_OPTIONS[field]}) names the column '${shownName(name)}', ` +
          `which the file does not have (found columns: ${shownColumns(names)}); name the column that holds ` +
          `${FIELD_CONTENTS[field]} as its header reads and upload the file again.`
      );
    }
    if (matches.length > 1) throw twoColumns(names, field, matches[0], matches[1]);
    return matches[0];
  }

  function autoMapped(names, fields) {
    const columns = new Map();
    names.forEach((name, index) => {
      const field = FIELDS_BY_NAME.get(normalizeName(name));
      if (field === undefined || !fields.includes(field)) return;
      if (columns.has(field)) throw twoColumns(names, field, columns.get(field), index);
      columns.set(field, index);
    });
    return columns;
  }

  function refuseMissingFields(names, columns) {
    const found = shownColumns(names);
    if (!columns.size) {
      throw new Refused(
        "The first row of the file must be a header naming the ContactId and Role columns (found columns: " +
          `${found}); add a header row such as ContactId,Role and upload the file again, or, if the file's columns ` +
          "have names of their own, upload it as it is with them named: " +
          `\`--metadata ${MAPPING_METADATA[CONTACT_ID]}=NAME,${MAPPING_METADATA[ROLE]}=NAME\` (aws s3 cp) or ` +
          `\`portal-import submit FILE ${MAPPING_OPTIONS[CONTACT_ID]} NAME ${MAPPING_OPTIONS[ROLE]} NAME\`.`
      );
    }
    for (const field of [CONTACT_ID, ROLE]) {
      if (!columns.has(field)) {
        throw new Refused(
          `The file has no ${field} column (found columns: ${found}); rename the column that holds ` +
            `${FIELD_CONTENTS[field]} to ${field} and upload the file again, or upload it as it is with that column ` +
            `named: \`--metadata ${MAPPING_METADATA[field]}=NAME\` (aws s3 cp) or ` +
            `\`portal-import submit FILE ${MAPPING_OPTIONS[field]} NAME\`.`
        );
      }
    }
  }

  function oneColumn(names, index, namedFields) {
    const column = `column ${index + 1} ('${shownName(names[index])}')`;
    let problem;
    let fix;
    if (namedFields.size === 2) {
      problem =
        `The ${MAPPING_METADATA[CONTACT_ID]} and ${MAPPING_METADATA[ROLE]} metadata ` +
        `(${MAPPING_OPTIONS[CONTACT_ID]}, ${MAPPING_OPTIONS[ROLE]}) both name ${column}`;
      fix = "name the column of each";
    } else {
      const [field] = namedFields.keys();
      const other = field === CONTACT_ID ? ROLE : CONTACT_ID;
      problem =
        `The ${MAPPING_METADATA[field]} metadata (${MAPPING_OPTIONS[field]}) names ${column}, which is the file's ` +
        `${other} column`;
      fix = `name the column that holds ${FIELD_CONTENTS[field]}`;
    }
    return new Refused(
      `${problem}, but ContactId and Role must be two columns (found columns: ${shownColumns(names)}); ${fix} and ` +
        "upload the file again."
    );
  }

  // reader.py's map_header: {ContactId: index, Role: index}, or Refused with its sentence.
  function mapHeader(names, mapping) {
    const namedFields = named(mapping);
    const columns = new Map();
    for (const [field, name] of namedFields) columns.set(field, namedColumn(names, field, name));
    const auto = autoMapped(
      names,
      [CONTACT_ID, ROLE].filter((field) => !namedFields.has(field))
    );
    for (const [field, index] of auto) columns.set(field, index);
    refuseMissingFields(names, columns);
    if (columns.get(CONTACT_ID) === columns.get(ROLE)) throw oneColumn(names, columns.get(CONTACT_ID), namedFields);
    return columns;
  }

  // For a header the stack refuses: the column each field would be read from, where one alone fits, to preselect
  // in the console's selects (Map Fields).
  function suggested(names, mapping) {
    const namedFields = named(mapping);
    const result = {};
    for (const field of [CONTACT_ID, ROLE]) {
      let fits;
      if (namedFields.has(field)) {
        const key = normalizeName(namedFields.get(field));
        fits = names.map((name, index) => (normalizeName(name) === key ? index : -1)).filter((index) => index >= 0);
      } else {
        fits = names
          .map((name, index) => (FIELDS_BY_NAME.get(normalizeName(name)) === field ? index : -1))
          .filter((index) => index >= 0);
      }
      result[field] = fits.length === 1 ? fits[0] : null;
    }
    if (result[CONTACT_ID] !== null && result[CONTACT_ID] === result[ROLE]) result[ROLE] = null;
    return result;
  }

  // --- the whole -------------------------------------------------------------------------------------------------

  const isAsciiWhiteByte = (byte) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
  const NONCHARACTERS = /[\ufffe\uffff]/g;
  const DOS_EOF = "\x1a";

  // reader.py's _Lines: lines decoded (each on its own unless UTF-16), noncharacters replaced, a DOS end-of-file
  // byte after the last line dropped, empty lines left out.
  function textLines(raw, decode, complete) {
    const { lines, rest } = physicalLines(raw);
    // A file cut at the slice: what follows its last line end is part of a line that goes on.
    if (complete && rest) lines.push(rest);
    const out = [];
    lines.forEach((physical, index) => {
      let line = decode ? decodedLine(physical) : physical;
      line = line.replace(NONCHARACTERS, "\ufffd");
      const last = complete && index === lines.length - 1;
      if (last && line.endsWith(DOS_EOF)) line = line.slice(0, -1);
      else if (last && line.replace(/[\r\n]+$/, "") === DOS_EOF) line = "";
      if (line) out.push(line);
    });
    return out;
  }

  function result(fields) {
    return Object.assign(
      {
        encoding: null,
        delimiter: null,
        columns: [],
        contactIdColumn: null,
        roleColumn: null,
        refusal: null,
        rows: [],
        cut: false,
      },
      fields
    );
  }

  /**
   * The beginning of an import file as the stack reads it.
   * bytes: Uint8Array, ArrayBuffer or array of byte values: the file, or its first 64 KiB
   * (new Uint8Array(await file.slice(0, PortalImportReader.PREFIX_BYTES).arrayBuffer())).
   * mapping: Map Fields, {contactId, role}: the header of the column to read each field from (absent: auto-mapped).
   * options: {maxFieldChars}: the stack's MaxFieldChars parameter (32000 by default).
   * Returns {encoding, delimiter, columns, contactIdColumn, roleColumn, refusal, rows, cut}: refusal is the stack's
   * sentence when it would refuse the file at its header (then the column indexes are only suggestions: the one
   * column that fits each field, if any); cut is true when the slice ends inside the header, which is then unknown.
   */
  function readHeader(input, mapping, options) {
    const fieldLimit = (options && options.maxFieldChars) || MAX_FIELD_CHARS;
    const bytes =
      input instanceof Uint8Array ? input : input instanceof ArrayBuffer ? new Uint8Array(input) : Uint8Array.from(input);
    const complete = bytes.length < PREFIX_BYTES;
    if (bytes.every(isAsciiWhiteByte)) return result({ refusal: EMPTY });
    let encoding;
    try {
      encoding = encodingOf(bytes, complete);
    } catch (error) {
      if (error instanceof Refused) return result({ refusal: error.message });
      throw error;
    }
    let beginning;
    let lines;
    let header;
    if (encoding === "utf-16") {
      const codec = bytes[0] === 0xff ? "utf-16le" : "utf-16be";
      beginning = new TextDecoder(codec).decode(bytes, { stream: !complete });
      header = headerRecord(beginning);
      lines = textLines(beginning, false, complete);
    } else {
      beginning = latin1(bytes.subarray(encoding === "utf-8-sig" ? 3 : 0));
      header = decodedLine(headerRecord(beginning));
      lines = textLines(beginning, true, complete);
    }
    if (complete && strip(beginning.replaceAll("\ufeff", ""), isSpace) === "") {
      return result({ encoding, refusal: EMPTY });
    }
    const delimiter = sniffDelimiter(header, mapping);
    const reader = new CsvReader(lines, delimiter, fieldLimit);
    let columns;
    try {
      columns = reader.next();
    } catch (error) {
      if (error instanceof CsvError && error.message.startsWith("field larger")) {
        return result({ encoding, delimiter, refusal: headerFieldTooLong(fieldLimit) });
      }
      throw error;
    }
    if (columns !== null && reader.ended && !complete) return result({ encoding, delimiter, cut: true });
    if (columns === null) {
      return complete ? result({ encoding, delimiter, refusal: EMPTY }) : result({ encoding, delimiter, cut: true });
    }
    if (reader.ended) return result({ encoding, delimiter, columns, refusal: HEADER_QUOTE_NEVER_CLOSED });
    if (columns.every((name) => strip(name, (char) => " \t\r\n\ufeff".includes(char)) === "")) {
      return result({ encoding, delimiter, columns, refusal: EMPTY_FIRST_ROW });
    }
    let mapped;
    try {
      mapped = mapHeader(columns, mapping);
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      const guess = suggested(columns, mapping);
      return result({
        encoding,
        delimiter,
        columns,
        contactIdColumn: guess[CONTACT_ID],
        roleColumn: guess[ROLE],
        refusal: error.message,
      });
    }
    // The first data rows, blank ones left out as the import leaves them out; a row the slice cuts, a quote never
    // closed or a value over the limit ends them (the import would say so of that row).
    const rows = [];
    while (rows.length < PREVIEW_ROWS) {
      let cells;
      try {
        cells = reader.next();
      } catch (error) {
        if (error instanceof CsvError) break;
        throw error;
      }
      if (cells === null || reader.ended) break;
      if (cells.every((cell) => strip(cell, isSpace) === "")) continue;
      rows.push(cells);
    }
    return result({
      encoding,
      delimiter,
      columns,
      contactIdColumn: mapped.get(CONTACT_ID),
      roleColumn: mapped.get(ROLE),
      rows,
    });
  }

  global.PortalImportReader = Object.freeze({
    readHeader,
    // The rules underneath, for the console and its tests: reader.py's normalize_name and shown.py's visible.
    normalizeName,
    visible,
    PREFIX_BYTES,
  });
})(typeof globalThis !== "undefined" ? globalThis : this);
