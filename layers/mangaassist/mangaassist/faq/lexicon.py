"""The manga store's vocabulary: the many ways customers name one concept, in English and Japanese.

Customers write "postage", "letterbox", "クレカ" or "着く" where the FAQ says "shipping fee",
"mailbox", "クレジットカード" and "届く". Both the index and each question get a concept token for
every surface form found, so the matcher compares meanings a thesaurus can join, not only strings.

English forms are words or phrases of words; a trailing "*" matches any ending ("deliver*").
Japanese forms are plain substrings after NFKC, compared without folding katakana into hiragana:
folded, "タイ" (Thailand) would match every "〜したい".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from mangaassist.faq.english import surface

# concept: (English forms, Japanese forms), each a "|"-separated list.
CONCEPTS: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ what kind of question
    "ask_when": (
        "how long|how many days|how soon|when|what time|how fast|how quickly|till|until",
        "いつ|何日|どのくらい|どれくらい|どれぐらい|何時|日数|何営業日",
    ),
    "ask_cost": (
        "how much|cost*|price*|pricing|fee|fees|charge|charges|expensive|cheap*",
        "いくら|料金|費用|金額|値段|価格|手数料|高い|安い",
    ),
    "ask_why": (
        "why|reason|how come",
        "なぜ|なんで|どうして|理由",
    ),
    "ask_how": (
        "how do i|how can i|how to|how does|steps|procedure|instructions|way to",
        "方法|やり方|手順|どうやって|どうすれば|どうしたら|使い方|仕方|手続き",
    ),
    "ask_what": (
        "what is|what's|what are|what does|whats",
        "何|なに|なん",
    ),
    "obtain": (
        "get|getting|obtain|receive|where can i get|where do i get|claim",
        "手に入|もらえ|もらう|もらい|入手|ゲット|受け取れ",
    ),
    "ask_meaning": (
        "mean|means|meaning|what is a|what are|what's a|difference|differ*|compare|comparison|versus|vs",
        "意味|とは|どういう|違い",
    ),
    # ------------------------------------------------------------------ delivery
    "delivery": (
        "deliver*|shipping|ship|ships|shipped|arriv*|dispatch*|come|comes|send|sent|reach",
        "配送|配達|届|発送|着く|着き|着か|送って|送る|送れ|お届け|到着|来る|来ない|来た|来ます|来ません",
    ),
    "express": (
        "express|next day|next-day|tomorrow|same day|same-day|asap|faster|fastest|quick*|rush|urgent*|expedit*",
        "お急ぎ|急ぎ|明日|翌日|当日|今日中|至急|早く|すぐ",
    ),
    "shipping_fee": (
        "shipping fee*|shipping cost*|shipping charge*|postage|delivery charge*|delivery fee*|"
        "delivery cost*|pay for shipping|pay for delivery|free shipping|free delivery",
        "送料|配送料|配送手数料|送料無料",
    ),
    "free": (
        "free|no charge|for nothing|zero yen|free shipping|free delivery",
        "無料|タダ|0円|ゼロ円|ただで|送料無料",
    ),
    "threshold": (
        "minimum|at least|or more|over|threshold|qualify",
        "以上|条件|いくら以上|最低|合計",
    ),
    "remote_area": (
        "okinawa|hokkaido|island*|remote|rural|kyushu",
        "沖縄|北海道|離島|島|九州|へき地",
    ),
    "address": (
        "address|addresses|adress|where i live|moved|moving|my new place",
        "住所|届け先|お届け先|配送先|送り先|引っ越|引越",
    ),
    "date_time_slot": (
        "time slot*|delivery slot*|specific day|specific date|choose the date|pick a date|evening|morning|"
        "afternoon|weekend|saturday|sunday|specify|scheduled|night|weekday*|monday|tuesday|wednesday|"
        "thursday|friday|delivery date*|delivery time*|date and time|set a day|set the day|choose a day|"
        "choose the day",
        "日時指定|時間指定|時間帯|日付|指定|午前|午後|夜|土曜|日曜|週末|何日に|曜日|平日|月曜|火曜|水曜|木曜|金曜",
    ),
    "konbini": (
        "convenience store*|konbini|7-eleven|seven-eleven|seven eleven|lawson|familymart|family mart|"
        "ministop|seicomart",
        "コンビニ|ローソン|ファミリーマート|ファミマ|セブン|ミニストップ|セイコーマート",
    ),
    "pickup": (
        "pick up|pickup|pick it up|collect|collection point|locker*|pickup point*",
        "受取|受け取|ロッカー|取りに行",
    ),
    "absent": (
        "not home|wasn't home|wasnt home|was out|missed|redeliver*|deliver again|notice",
        "不在|留守|再配達|いなかった|再度",
    ),
    "carrier_company": (
        "carrier*|courier*|delivery company|delivery companies|shipping company|yamato|sagawa|japan post|"
        "kuroneko|who delivers",
        "配送業者|運送会社|配送会社|宅配業者|業者|ヤマト|佐川|日本郵便|クロネコ|郵便局",
    ),
    "split": (
        "separate*|split|part of|partial*|only one|only some|the rest|other items|different box*|"
        "multiple package*|more than one package|several packages",
        "別々|分割|一部|残り|バラバラ|別便|別の箱",
    ),
    "combine": (
        "combine*|together|merge*|one package|one shipment|same box|same package|add an item|add to my order|add items",
        "まとめて|一緒|同梱|ひとまとめ|追加",
    ),
    "mailbox": (
        "mailbox*|letterbox*|letter box|post box|postbox|mail slot|sign for|signature|in person",
        "ポスト|郵便受け|投函|対面|サイン|受領印|ハンコ|はんこ|手渡し",
    ),
    "packaging": (
        "packaging|packing|packed|pack|envelope*|cardboard|padded|padding|protect*",
        "梱包|封筒|段ボール|ダンボール|緩衝材|プチプチ",
    ),
    "parcel": (
        "package*|parcel*|box|boxes",
        "荷物|箱|小包|パッケージ",
    ),
    "delay": (
        "delay*|late|later than|taking longer|taking so long|bad weather|typhoon*|snow*|storm*|"
        "earthquake*|disaster*|heavy rain",
        "遅れ|遅延|遅い|台風|大雪|雪|地震|災害|悪天候|大雨|予定日を過ぎ",
    ),
    "discreet": (
        "discreet*|plain|what's inside|whats inside|what is inside|contents|label|privacy|private|"
        "see what i bought|see what i ordered|outside of the package",
        "中身|ばれ|バレ|見えない|伝票|品名|外から|無地",
    ),
    "multi_address": (
        "multiple addresses|different addresses|more than one address|two addresses|several addresses",
        "複数の住所|別々の住所|分けて送|届け先を分け|それぞれ|半分",
    ),
    "after_shipping": (
        "already shipped|has shipped|have shipped|been shipped|after shipping|after it ships|"
        "after it shipped|once shipped|once it ships|already on its way|already sent",
        "発送済|発送後|発送された|発送されて|出荷済|出荷後|もう届",
    ),
    "partial": (
        "one item|one volume|one of|part of|partial*|some of|only one|only some|just one|single item|a few items",
        "一部|1点|一点|1冊|一冊|一つ|1つ",
    ),
    "problem": (
        "not|never|no longer|cannot|problem*|issue*|trouble*|still",
        "ない|ません|できな|られな|トラブル|問題|まだ",
    ),
    # ------------------------------------------------------------------ orders
    "tracking": (
        "track*|where is my|wheres my|where's my|status|shipped yet|ship yet|on its way|in transit",
        "追跡|どこにあ|状況|ステータス|配送中",
    ),
    "tracking_number": (
        "tracking number|number",
        "伝票番号|追跡番号|お問い合わせ番号|問い合わせ番号|番号",
    ),
    "delivered_missing": (
        "says delivered|marked delivered|marked as delivered|shows delivered|shows as delivered|"
        "delivered but|status says delivered|never arrived|didn't arrive|not arrived|haven't received|"
        "not received|not here",
        "配達完了|配達済|届いてない|届いていない|見当たらない|受け取っていない|受け取ってない",
    ),
    "confirmation": (
        "confirmation*|confirm*|go through|went through|gone through|order placed",
        "確認メール|注文確認|完了メール|注文できた",
    ),
    "history": (
        "history|past order*|old order*|previous order*|bought before|ordered before|purchased before",
        "履歴|過去|以前|昔|前に買|前に注文|購入した履歴",
    ),
    # ------------------------------------------------------------------ payment
    "payment": (
        "pay|paid|paying|payment*|checkout|check out|settle",
        "支払|払|決済|お会計|精算",
    ),
    "credit_card": (
        "credit card*|credit|debit|debit card*|visa|mastercard|master card|jcb|amex|american express|diners",
        "クレジット|クレカ|デビット|アメックス|マスターカード|jcb|visa|ダイナース",
    ),
    "cash_on_delivery": (
        "cash on delivery|cod|cash|pay the driver|pay on delivery|pay the delivery|pay when it arrives|"
        "pay when the package arrives|delivery driver",
        "代引|代金引換|現金|着払い|配達員",
    ),
    "bank": (
        "bank*|atm|pay-easy|payeasy|wire|online banking",
        "銀行|振込|振り込|atm|ペイジー|ネットバンキング|口座",
    ),
    "carrier_billing": (
        "phone bill|mobile bill|carrier billing|docomo|au|softbank|mobile carrier|phone carrier|"
        "cell phone bill|mobile phone bill",
        "携帯決済|キャリア決済|ドコモ|ソフトバンク|携帯代|電話代|携帯料金|auかんたん",
    ),
    "gift_card": (
        "gift card*|gift certificate*|gift voucher*|voucher*|balance",
        "ギフト券|ギフトカード|ギフトコード|商品券|残高|アマギフ",
    ),
    "change": (
        "change|changing|switch*|update|edit|modify|fix|correct",
        "変更|変え|変えた|修正|訂正",
    ),
    "declined": (
        "declin*|fail*|error|didn't go through|not go through|won't go through|denied|not accepted|"
        "doesn't work|not working|refused",
        "通らない|通りません|使えませんでした|使えなかった|エラー|承認され|失敗|弾かれ|はじかれ|決済できない",
    ),
    "charged": (
        "charged|charge my card|billed|bill|taken|withdrawn|debited|money taken",
        "請求|引き落と|課金|代金がかか",
    ),
    "twice": (
        "twice|double|duplicate*|two charges|charged two times",
        "二重|2重|2回|二回|重複",
    ),
    "installments": (
        "installment*|instalment*|revolving|spread the cost|pay monthly|pay over time|pay in parts",
        "分割払|リボ|ボーナス払|分けて払",
    ),
    "e_money": (
        "paypay|qr|qr code|e-money|emoney|electronic money|suica|pasmo|line pay|rakuten pay|apple pay|"
        "google pay|merpay|au pay|d barai",
        "paypay|qr|電子マネー|suica|pasmo|ペイペイ|楽天ペイ|applepay|メルペイ|qrコード|スマホ決済|バーコード決済",
    ),
    # ------------------------------------------------------------------ editions and reading
    "digital": (
        "digital|ebook*|e-book*|electronic|e-manga|digital edition*|digital version*|digital copy",
        "電子|デジタル|電子書籍|電子版",
    ),
    "print": (
        "print|print edition*|print version*|paper|paperback*|physical|hard copy|hardcopy|printed copy|"
        "paper version|physical copy",
        "紙|紙版|紙の本|書籍版|実物",
    ),
    "release": (
        "release*|come out|comes out|coming out|came out|out on|publication|publish*|launch*|new release*|"
        "upcoming|on sale date",
        "発売|配信日|刊行|出る|出ます|出ない|発売日|新刊|リリース",
    ),
    "preorder": (
        "pre-order*|preorder*|reserve*|reservation*|before release|before it comes out|before it's released",
        "予約|発売前",
    ),
    "same_day_release": (
        "same day|same time|simultaneous*|same date|at the same time",
        "同時|同じ日",
    ),
    "bundle_digital": (
        "come with|comes with|included with|include the|get the digital|get the ebook|both versions|also get",
        "付いて|付く|セット",
    ),
    "app": (
        "app|apps|application|reader app|reading app|viewer",
        "アプリ|ビューア|ビューワー|読書アプリ",
    ),
    "device": (
        "device*|phone|phones|smartphone*|iphone*|ipad*|android|tablet*|pc|computer*|laptop*|mac|windows|browser",
        "端末|スマホ|スマートフォン|iphone|ipad|android|タブレット|パソコン|pc|mac|windows|ブラウザ|デバイス|何台|台数",
    ),
    "offline": (
        "offline|without internet|no internet|no signal|no connection|without a connection|"
        "without connection|subway|download*|wifi|wi-fi|internet|connection|signal",
        "オフライン|ネットがな|圏外|ダウンロード|機内|wifi|wi-fi|ネット接続|インターネット|飛行機|地下鉄",
    ),
    "storage": (
        "storage|space|memory|free up|remove download*|delete download*|gigabyte*|gb",
        "容量|ストレージ|空き|メモリ|ギガ",
    ),
    "crash": (
        "crash*|freez*|won't open|wont open|doesn't open|not open|not working|doesn't work|bug*|glitch*|"
        "stuck|black screen|not load*|won't load|keeps closing",
        "落ちる|落ちます|落ちた|クラッシュ|開けない|開かない|動かない|固まる|固まり|フリーズ|不具合|バグ|表示されない",
    ),
    "sync": (
        "sync*|where i stopped|where i left off|left off|continue reading|reading position|last page|"
        "another device|other device",
        "同期|続きから|読んだ位置|前回の続き|別の端末|他の端末",
    ),
    "view_settings": (
        "two-page|two page|spread|side by side|zoom*|reading direction|right to left|left to right|"
        "page view|font|brightness|display setting*|vertical|landscape",
        "見開き|拡大|ズーム|めくる方向|右から左|表示設定|明るさ|単ページ|縦読み|横向き",
    ),
    "ereader": (
        "kindle|e-reader*|ereader*|e-ink|eink|paperwhite|kobo|e-paper",
        "kindle|キンドル|電子書籍リーダー|電子ペーパー|kobo|paperwhite|電子書籍端末",
    ),
    "sample": (
        "sample*|preview*|trial|try before|first chapter|first few pages|peek|read for free|look inside|try it",
        "試し読み|サンプル|無料で読|立ち読み|少しだけ読|お試し",
    ),
    "share": (
        "share|sharing|lend*|borrow*|transfer it|give it to",
        "共有|貸し|譲渡|シェア|譲",
    ),
    "formats": (
        "bunko*|tankobon*|kanzenban|aizoban|wideban|shinsoban|format*|deluxe|omnibus|perfect edition|"
        "edition size|smaller edition",
        "文庫|単行本|完全版|愛蔵版|ワイド版|新装版|判型|大判|b6|a5",
    ),
    # ------------------------------------------------------------------ series and volumes
    "series": (
        "series|volume|volumes|vol|manga series",
        "シリーズ|巻|作品",
    ),
    "complete_set": (
        "complete set*|box set*|boxset*|all volumes|all the volumes|every volume|full set|whole series|"
        "entire series|all of the volumes|bundle|at once",
        "全巻|一括|まとめ買い|全部の巻|1巻から|全部まとめ",
    ),
    "next_volume": (
        "next volume*|next vol|new volume*|latest volume*|following volume|next book",
        "次の巻|続刊|新刊|最新刊|次巻|続き|最新巻",
    ),
    "out_of_print": (
        "out of print|discontinued|no longer available|no longer sold|old volume*|rare|older volume*|not sold anymore",
        "絶版|廃盤|売っていない|販売終了|手に入らない|入手",
    ),
    "reading_order": (
        "reading order|order should i read|order to read|which order|read first|start with|spin-off*|"
        "spinoff*|sequel*|prequel*|side story|side stories",
        "順番|読む順|スピンオフ|続編|外伝|読み始め|どれから|どこから読|本編",
    ),
    "subscription": (
        "subscri*|automatic*|auto|standing order|each new volume|every new volume",
        "定期購入|定期購読|自動|毎号|定期",
    ),
    "translation": (
        "english edition*|english version*|translat*|english manga|english language|in english|english",
        "英語版|翻訳|英訳|英語",
    ),
    "used": (
        "used copy|used copies|used book*|used manga|second-hand|secondhand|second hand|pre-owned|"
        "preowned|buy back|sell my",
        "中古|新品|古本|買取|買い取",
    ),
    "magazine": (
        "magazine*|weekly|monthly|shonen jump|jump|issue*",
        "雑誌|週刊|月刊|ジャンプ|マガジン|サンデー",
    ),
    # ------------------------------------------------------------------ limited editions and bonuses
    "limited": (
        "limited edition*|limited|special edition*|collector*|deluxe edition*|gentei|tokusou|first press",
        "限定版|限定|特装版|特装|豪華版|特別版",
    ),
    "bonus": (
        "bonus*|tokuten|extra|extras|freebie*|illustration card*|postcard*|shikishi|leaflet|goodies|perk*|"
        "free gift|acrylic stand*|acrylic|novelty|store bonus",
        "特典|おまけ|付録|ノベルティ|イラストカード|ポストカード|しおり|色紙|アクスタ|アクリルスタンド|ブロマイド|付属",
    ),
    "quantity": (
        "how many|limit*|several copies|multiple copies|more than one copy|copies|per customer|per person",
        "何個|何冊|何点|上限|複数|個数|お一人様|いくつ|何部",
    ),
    "sold_out": (
        "sold out|out of stock|restock*|back in stock|available again|unavailable|no stock|none left",
        "売り切|品切|在庫切|完売|再入荷|再販",
    ),
    # ------------------------------------------------------------------ returns and problems
    "cancel": (
        "cancel*|call off|don't want it anymore|no longer want",
        "キャンセル|取り消|取消|やめ|いらなくな|いらない",
    ),
    "refund": (
        "refund*|money back|reimburse*|get my money|paid back",
        "返金|お金が戻|払い戻|差額|戻る|戻り|戻っ",
    ),
    "return": (
        "return*|send back|send it back|sending back|give back",
        "返品|返送|返す|返し|返せ",
    ),
    "exchange": (
        "exchange*|swap*|replace*|replacement|trade",
        "交換|取り替|取替|替えて|替えたい",
    ),
    "damaged": (
        "damag*|broken|torn|tear|bent|crush*|dent*|wet|stain*|dirty|crease*|ruin*|falling apart|wrecked|squashed",
        "破損|破れ|折れ|潰れ|つぶれ|へこ|凹|汚れ|濡れ|ボロボロ|ぼろぼろ|壊れ|傷ん|傷が",
    ),
    "minor_wear": (
        "scratch*|wear|rubbing|marks|slight*|small scratch*|shelf wear",
        "擦れ|小さな傷|少し|多少|細かい傷|キズ",
    ),
    "misprint": (
        "misprint*|missing pages|pages are missing|pages missing|blank page*|blank|duplicate page*|"
        "wrong order|upside down|printing error*|print error*|pages missing",
        "落丁|乱丁|白紙|ページが抜け|抜けて|印刷ミス|ページの順番|ページが足りない",
    ),
    "wrong_item": (
        "wrong item|wrong book|wrong volume|different volume|different book|not what i ordered|"
        "isn't what i ordered|instead of",
        "違う商品|違う本|違う巻|間違った商品|注文と違う|誤配|別の商品が",
    ),
    "missing_item": (
        "missing|only got|only received|not in the box|not included|left out|wasn't included",
        "足りない|足りません|入っていない|入ってない|入っていません|不足|同梱されてない|同梱されていない|入ってなかった|入っていなかった",
    ),
    "mistake": (
        "by mistake|accidentally|accident*|mistake*|wrong one|oops|ordered the wrong",
        "まちがえ|誤って|うっかり|つもりが|間違",
    ),
    "opened_read": (
        "already read|read it|opened|open it|didn't like|did not like|don't like|not like it|not for me",
        "読んだ|読んでしま|開封|開けた|気に入らな|好みじゃ|合わなかった",
    ),
    # ------------------------------------------------------------------ account
    "account": (
        "account*|membership|member|profile",
        "アカウント|会員|マイページ",
    ),
    "create": (
        "create|open an account|new account|sign up|signup|register*|registration|join",
        "作成|作り|新規|会員登録|登録したい|登録する",
    ),
    "login": (
        "log in|login|logging in|sign in|signin|signing in|locked|lock*|log on",
        "ログイン|サインイン|ロック",
    ),
    "password": (
        "password*|passcode|passwd",
        "パスワード|暗証",
    ),
    "email": (
        "email*|e-mail|email address|mail address",
        "メール|メアド|メールアドレス",
    ),
    "forgot": (
        "forgot|forget|forgotten|can't remember|don't remember|reset",
        "忘れ|分からなくな|わからなくな|再設定",
    ),
    "close_account": (
        "delete my account|close my account|close account|delete account|deactivate|remove my account|"
        "cancel my membership|cancel membership|delete my data",
        "退会|削除|閉鎖|解約|アカウントを消",
    ),
    "two_step": (
        "2fa|two-step|two step|two-factor|two factor|2-step|2 step|otp|authenticator|verification code|"
        "security|authenticat*",
        "2段階|二段階|二要素|2要素|認証|セキュリティ",
    ),
    "suspicious": (
        "suspicious|phishing|scam*|strange email|strange message|fake|hack*|someone else used|didn't make|"
        "did not make|unauthori*|fraud*|is it real|legit",
        "怪しい|不審|詐欺|フィッシング|偽|本物|乗っ取|不正|身に覚え",
    ),
    "newsletter": (
        "unsubscribe|newsletter*|promotional|promo email*|spam|stop email*|too many emails|mailing list|stop sending",
        "メルマガ|メールマガジン|配信停止|宣伝メール|お知らせメール|広告メール|停止",
    ),
    "address_book": (
        "address book|saved address*|add address*|another address|new address|default address",
        "アドレス帳|住所を登録|住所登録|新しい住所|住所を追加|いつもの届け先",
    ),
    # ------------------------------------------------------------------ points, coupons, prices
    "points": (
        "point*|reward*|loyalty",
        "ポイント",
    ),
    "earn": (
        "earn*|get points|accumulate|rate|percent|%|how many points|collect points",
        "貯ま|貯め|付与|還元|%|何ポイント",
    ),
    "expiry": (
        "expir*|valid|validity|run out|runs out|still use",
        "期限|有効期限|失効|いつまで|消える",
    ),
    "not_added": (
        "didn't receive|did not receive|not added|not showing|not credited|missing points|haven't got|"
        "haven't received|not reflected",
        "付与されていない|付与されてない|貯まっていない|貯まってない|まだもらえ|ついてない|付いていない",
    ),
    "coupon": (
        "coupon*|promo code*|promotion code*|discount code*|coupon code*|promo|discount*",
        "クーポン|割引|プロモーション|クーポンコード",
    ),
    "multiple": (
        "more than one|several|combine*|stack*|together|at once|at the same time|both",
        "複数|同時|併用|両方|一緒に",
    ),
    "price_drop": (
        "sale|on sale|price drop*|price went down|cheaper|lower price|price match*|price adjust*|"
        "went down|goes down|dropped|reduced",
        "値下|安くな|セール|価格保証|値段が下が",
    ),
    "tax": (
        "tax|taxes|consumption tax|tax included|including tax",
        "税|税込|消費税|税抜",
    ),
    # ------------------------------------------------------------------ gifts
    "gift": (
        "gift*|present*|christmas|for a friend|for my friend|surprise",
        "ギフト|プレゼント|贈|贈り物|誕生日|クリスマス|お祝い",
    ),
    "wrap": (
        "wrap*|gift wrap*|ribbon",
        "ラッピング|包装|リボン",
    ),
    "message": (
        "message*|note|greeting|card with",
        "メッセージ|添え|手紙",
    ),
    "hide_price": (
        "hide the price|hide price|without the price|how much i paid|packing slip|price on|no price",
        "隠|見せたくない|知られたくない|表示しない|納品書",
    ),
    "other_person": (
        "friend*|sister|brother|mother|mom|father|dad|family|nephew|niece|grandma|grandmother|grandpa|"
        "someone else|another person|other person|relative*|girlfriend|boyfriend|parents|recipient|"
        "someone else's",
        "友達|友人|家族|実家|両親|親|姉|妹|兄|弟|甥|姪|祖母|祖父|相手|別の人|他の人|贈り先|彼女|彼氏",
    ),
    # ------------------------------------------------------------------ international
    "international": (
        "international*|overseas|abroad|outside japan|foreign|other countries|country|countries|usa|"
        "the us|america|united states|canada|uk|england|britain|france|germany|australia|europe|asia|"
        "china|korea|taiwan|singapore|hong kong|thailand|brazil|mexico|italy|spain|philippines|indonesia|"
        "vietnam|india",
        "海外|国外|外国|アメリカ|米国|カナダ|イギリス|フランス|ドイツ|オーストラリア|ヨーロッパ|アジア|中国|韓国|台湾|香港|シンガポール|ブラジル|どの国|国に",
    ),
    "customs": (
        "customs|duty|duties|import tax*|import fee*|vat|import charge*",
        "関税|輸入税|税関|通関|輸入",
    ),
    "language": (
        "english|language|japanese only|in english",
        "英語|言語|日本語以外|英語で",
    ),
    # ------------------------------------------------------------------ receipts
    "receipt": (
        "receipt*|invoice*|statement|proof of purchase|expense*|reimbursement",
        "領収書|請求書|明細書|インボイス|レシート|経費|領収証",
    ),
    "qualified_invoice": (
        "registration number|qualified invoice*|t number|t-number|invoice number|invoice system|tax id",
        "登録番号|適格請求書|インボイス|t番号|適格",
    ),
    "company": (
        "company|company name|business|corporate|firm|employer|my work",
        "会社|法人|企業|宛名|社名",
    ),
    # ------------------------------------------------------------------ age and stock
    "age_restricted": (
        "18+|adult*|r18|r-18|r15|r-15|minor*|nsfw|mature|explicit|18 or over|over 18|under 18|"
        "age verification|age check",
        "成人|18禁|r18|r-18|r15|未成年|大人向け|アダルト|18歳|年齢確認|年齢制限",
    ),
    "children": (
        "child*|kid*|son|daughter|suitable|appropriate|family friendly|age rating*|rating*",
        "子ども|子供|こども|児童|息子|娘|年齢区分|向け",
    ),
    "search_hidden": (
        "search*|not showing|hidden|doesn't show|don't see|not appear*|filter*",
        "検索|表示されない|見つからない|フィルター|非表示",
    ),
    "stock": (
        "stock|restock*|sold out|available again|back in stock|out of stock|unavailable|inventory|"
        "availability|in stock",
        "在庫|入荷|品切|売り切|完売|再入荷|再販",
    ),
    "notify": (
        "notify*|notification*|alert*|let me know|remind*|email me when|let me know when",
        "通知|お知らせ|知らせ|連絡を",
    ),
    "stock_label": (
        "usually ships|ships in|temporarily|temporarily out of stock|ships within|backorder*|back order*",
        "取り寄せ|一時的|通常|以内に発送|お取り寄せ",
    ),
    # ------------------------------------------------------------------ people and other services
    "human": (
        "human|person|agent|operator|staff|representative|customer service|support|contact|talk to|"
        "speak to|speak with|call|phone number|live chat",
        "担当者|オペレーター|問い合わせ|サポート|カスタマーサービス|電話|スタッフ|連絡先|人間|有人",
    ),
    "bulk_business": (
        "bulk|school*|university|wholesale|large quantit*|business account|libraries|institution*|"
        "corporate account|purchase order",
        "図書館|学校|大口|まとめ買い|大量|団体|法人",
    ),
    "review": (
        "review*|rate|rating|stars|feedback|comment",
        "レビュー|評価|感想|口コミ|星",
    ),
    "wishlist": (
        "wish list|wishlist|wish-list|save for later|buy later|favorite*|favourite*",
        "ほしい物リスト|欲しい物リスト|ほしいものリスト|欲しいものリスト|お気に入り|あとで買|後で買",
    ),
}


# Everyday words and inflections customers use for the same concepts, added in the generalisation
# pass (docs/faq.md): general vocabulary, each form checked not to be taken from an evaluation set.
_EVERYDAY: dict[str, tuple[str, str]] = {
    "ask_when": (
        "how many weeks|what day|by when|eta",
        "いつ頃|何日くらい|何日ぐらい|どのぐらい|何週間",
    ),
    "delivery": (
        "coming|arrive|get here|shows up|turn up|turns up|en route",
        "届け|到着予定|配送され|届きま",
    ),
    "express": (
        "overnight|speedy|in a hurry|hurry|soon as possible|express shipping|express delivery",
        "特急|最短|急いで",
    ),
    "shipping_fee": (
        "shipping rate*|shipping price*|delivery price*|delivery rate*|postage cost*|postal fee*|carriage",
        "配送料金|運賃|送り賃",
    ),
    "free": (
        "free of charge|no cost|without charge|complimentary|costs nothing",
        "無償",
    ),
    "threshold": (
        "spend|minimum order|minimum purchase|how much more|enough",
        "最低金額|以上購入",
    ),
    "remote_area": (
        "countryside|village|mountain*|remote area*|isolated|far from",
        "諸島|山間部|田舎",
    ),
    "address": (
        "apt|house|home address|postal code|zip code|zipcode|room number|building|destination",
        "マンション|部屋番号|郵便番号|番地|アパート|宛先",
    ),
    "date_time_slot": (
        "time window|timeslot*|delivery window|pick the day|select a date|select the date|specific time|"
        "certain time|after work|o'clock|holiday*",
        "時間を指定|日にちを指定|日を指定|祝日|夕方",
    ),
    "konbini": (
        "conbini|combini|7-11|711|seven 11|daily yamazaki|circle k",
        "セブンイレブン|デイリーヤマザキ|ポプラ|サークルk",
    ),
    "pickup": (
        "parcel locker*|post office counter|hold at|collect it|drop-off point*|pick-up",
        "受け取り場所|営業所|局留め|郵便局留め",
    ),
    "absent": (
        "wasn't in|was away|nobody home|no one home|no one was home|failed delivery|attempted delivery|"
        "delivery attempt*|redeliver*",
        "不在票|持ち戻り|再配",
    ),
    "carrier_company": (
        "delivery service|shipping service|postal service|delivery partner*|what company|logistics",
        "宅配便|配達業者|ゆうパック|ゆうパケット",
    ),
    "split": (
        "separately|in parts|two boxes|two packages|in pieces|not all|rest of|remaining|others",
        "先に届|一部だけ|バラで",
    ),
    "combine": (
        "consolidat*|single shipment|single package|ship together|send together",
        "まとめて送|合わせて|一つにまとめ|1つにまとめ",
    ),
    "mailbox": (
        "mail box|mailslot|doorstep|leave it|drop it off|hand it to me|hand delivered",
        "置き配|玄関|ドアの前",
    ),
    "packaging": (
        "cushion*|safely|securely|carefully|wrapped",
        "梱包材|袋に入",
    ),
    "parcel": (
        "shipment*|delivery box",
        "宅配便",
    ),
    "delay": (
        "overdue|behind schedule|running late|slow*|held up|taking forever|long time|not here yet|still waiting",
        "届かない|まだ来ない|なかなか来|延着|遅く",
    ),
    "discreet": (
        "embarrass*|anonymous|unmarked|neutral packaging|nobody knows|title on|cover on",
        "中が見え|タイトルが見え",
    ),
    "after_shipping": (
        "in transit|out for delivery|on the way|already dispatched|already left",
        "出荷され",
    ),
    "tracking": (
        "order status|progress|whereabouts",
        "配送状況|荷物状況|発送状況",
    ),
    "tracking_number": (
        "tracking id|shipment number|waybill|slip number|reference number",
        "追跡ナンバー|問合せ番号",
    ),
    "delivered_missing": (
        "nothing arrived|can't find it|cannot find it|stolen|missing package|never came|never got it",
        "荷物がない|見つからない",
    ),
    "confirmation": (
        "order number|did it work|successful*|was it placed|been placed|went thru",
        "注文番号|完了メール",
    ),
    "history": (
        "purchase history|order list|last month|what i bought|what i ordered|bought in the past",
        "購入履歴|注文履歴|去年|先月",
    ),
    "payment": (
        "pay for|transaction*|method of payment|forms of payment|payment option*",
        "お支払い|支払う|払える|払い方",
    ),
    "credit_card": (
        "card|cards|card brand*|discover|unionpay|prepaid card*",
        "カード|カード払い|カード決済",
    ),
    "cash_on_delivery": (
        "collect on delivery|pay at the door|pay cash|pay in cash",
        "代金引き換え|着払",
    ),
    "bank": (
        "furikomi|bank transfer|transfer money|direct debit",
        "銀行振込|ネット銀行",
    ),
    "carrier_billing": (
        "phone provider|carrier payment|add to my phone|phone company",
        "まとめて支払い|ケータイ払い|auかんたん決済|キャリア払い",
    ),
    "gift_card": (
        "store credit|redeem*|claim code*",
        "ギフト残高",
    ),
    "change": (
        "alter*|amend*|adjust*",
        "切り替え",
    ),
    "declined": (
        "reject*|won't accept|not accepted|bounced|invalid card|card error",
        "決済エラー|使えない|弾かれる|通らなかった",
    ),
    "charged": (
        "deducted|took money|take my money|withdraw*",
        "引かれ|お金を取られ",
    ),
    "twice": (
        "two times|double charged",
        "ダブって|同じ金額",
    ),
    "installments": (
        "payment plan*|split payment*|pay later|buy now pay later|bnpl|financing",
        "リボ払い|ボーナス一括|後払い",
    ),
    "e_money": (
        "linepay|nanaco|waon|edy|quicpay|icoca|d payment",
        "ペイペイ|ラインペイ|nanaco|waon|楽天edy|quicpay|icoca|d払い",
    ),
    "digital": (
        "emanga|online version|digital copies|e book|kindle version|digital format",
        "電書|kindle版|電子コミック",
    ),
    "print": (
        "paper copies|physical book*|real book*|book form",
        "紙媒体|紙で|紙の",
    ),
    "release": (
        "out yet|available from|coming soon|publish date|release day|release date*",
        "発売予定|出る日|発売され",
    ),
    "preorder": (
        "pre-buy|advance order*|order in advance|order ahead",
        "予約注文|予約購入|取り置き",
    ),
    "app": (
        "reader|manga app|software",
        "リーダー|ビューアー",
    ),
    "device": (
        "ios|ipados|chromebook|fire tablet|mobile|cell phone|cellphone",
        "アイフォン|アイパッド|アンドロイド|ウィンドウズ|マック|携帯",
    ),
    "offline": (
        "airplane mode|no wifi|mobile data|no reception|without data",
        "電波|通信|オフライン|ネットなし",
    ),
    "storage": (
        "free space|storage full|clean up|too much space|full storage|disk",
        "容量不足|空き容量|データ削除",
    ),
    "crash": (
        "blank screen|white screen|error message|shuts down|closes|lag*|won't start",
        "落ちて|強制終了|真っ黒|真っ白|読み込まない|エラーが出",
    ),
    "sync": (
        "resume|pick up where|continue where|other devices|across devices|between devices|reading progress",
        "前回の位置|続きを読",
    ),
    "view_settings": (
        "swipe|scroll*|night mode|dark mode|text size|single page|orientation|rotate",
        "右開き|左開き|縦スクロール|文字サイズ|ダークモード",
    ),
    "ereader": (
        "nook|e ink|boox|pocketbook",
        "コボ",
    ),
    "sample": (
        "free chapter*|free pages|excerpt|try reading|read a bit|first volume free",
        "立読み|試読|無料公開|冒頭",
    ),
    "share": (
        "family sharing|family library|give away|pass on|another account|other account",
        "家族で|貸す",
    ),
    "formats": (
        "edition type*|larger edition|big edition|pocket edition|size",
        "新書|大きいサイズ|サイズ",
    ),
    "complete_set": (
        "collection|the whole set|all the books|every book|complete series|full series",
        "一気に|全部買|全巻まとめ",
    ),
    "next_volume": (
        "next installment|next part|following book|upcoming volume|newest volume",
        "続巻",
    ),
    "out_of_print": (
        "no longer printed|can't find anywhere|not available anywhere|old book*|backlist",
        "生産終了|古い巻",
    ),
    "reading_order": (
        "where to start|first book|chronological|which comes first|which one first",
        "時系列|読む順番|何から読",
    ),
    "subscription": (
        "every release|each release|auto-buy|auto buy|auto-order|auto order",
        "自動購入|自動で|出るたび|毎回",
    ),
    "translation": (
        "english-language|english copy|english copies|localized|localised",
        "翻訳版",
    ),
    "used": (
        "pre owned|brand new|new condition",
        "新品同様|未使用",
    ),
    "magazine": (
        "anthology|shonen|seinen|shojo|shoujo",
        "週刊誌|月刊誌|漫画誌",
    ),
    "limited": (
        "special version|premium edition|exclusive edition|first edition bonus",
        "限定盤|初回限定|特別版",
    ),
    "bonus": (
        "store exclusive|exclusive|pre-order bonus|preorder bonus|giveaway|sticker*|clear file*",
        "特典付き|店舗特典|クリアファイル|缶バッジ|ステッカー",
    ),
    "quantity": (
        "maximum|one per|two copies|extra copy|copies",
        "何冊まで|何個まで",
    ),
    "sold_out": (
        "gone|no longer in stock|none available|sold-out",
        "在庫なし|在庫がない|なくなっ",
    ),
    "cancel": (
        "stop my order|stop the order|withdraw my order|undo my order|revoke|don't need it",
        "取りやめ|中止",
    ),
    "refund": (
        "refunded|credit back|money returned|repay*|chargeback",
        "返金して|お金を返",
    ),
    "return": (
        "returning|ship back|mail back|post back|returns",
        "返品したい|返却",
    ),
    "exchange": (
        "switch it|change it for",
        "取りかえ|取り換え",
    ),
    "damaged": (
        "ripped|rip|rips|water damage*|smashed|folded|warped|mangled|destroyed|beat up|beaten up|"
        "bad condition|poor condition",
        "ぐちゃぐちゃ|破け|水濡れ|湿って",
    ),
    "minor_wear": (
        "blemish*|light wear|shelf-worn|imperfection*|tiny mark*",
        "かすれ",
    ),
    "misprint": (
        "printing defect*|defective print*|pages out of order|page order|duplicated pages|extra pages|faded|"
        "smudged|binding|loose pages",
        "印刷不良|ページが飛|製本",
    ),
    "wrong_item": (
        "wrong manga|wrong edition|not the one i ordered|different item|different title|someone else's order",
        "別の本|違うタイトル|注文していない",
    ),
    "missing_item": (
        "didn't come with|not in the package|one short|missing book*",
        "欠品|足らない",
    ),
    "mistake": (
        "misclick*|wrong button|unintentional*|mistakenly",
        "押し間違",
    ),
    "opened_read": (
        "shrink*|unsealed|seal broken|broke the seal|started reading|finished reading",
        "シュリンク|ビニール|封を開け",
    ),
    "account": (
        "my profile|user|username|customer account|login details",
        "ユーザー|登録情報",
    ),
    "create": (
        "set up an account|start an account|guest checkout|without an account|without registering",
        "会員になる|登録しないと|ゲスト",
    ),
    "login": (
        "log into|logon|can't get in|access my account|locked out|sign-in",
        "ログインでき",
    ),
    "password": (
        "pass word|pin|login password",
        "パスワ",
    ),
    "email": (
        "e mail|mail address",
        "eメール",
    ),
    "forgot": (
        "lost my password|recover*|recovery|new password",
        "思い出せ",
    ),
    "close_account": (
        "terminate*|unregister|leave the site|quit the site",
        "アカウント削除|会員をやめ",
    ),
    "two_step": (
        "sms code|one-time code|one time code|code by text|verification|mfa|extra security",
        "ワンタイム|sms|確認コード|認証コード",
    ),
    "suspicious": (
        "hacked|compromised|stolen account|strange|spoof*|impersonat*|didn't order|did not order|never ordered",
        "不正利用|ハッキング|覚えのない|勝手に注文",
    ),
    "newsletter": (
        "marketing|advert*|ads|opt out|opt-out",
        "メール配信|広告メール",
    ),
    "address_book": (
        "saved addresses|manage addresses|address list|default shipping",
        "住所録|登録住所",
    ),
    "points": (
        "point balance|loyalty points",
        "",
    ),
    "earn": (
        "earning|cashback|cash back|back as points",
        "還元率|ポイント付与",
    ),
    "expiry": (
        "expire|lapse|until when|forever",
        "消滅",
    ),
    "not_added": (
        "not given|not awarded|points missing|didn't get points|never got points",
        "反映されて|付与されな",
    ),
    "coupon": (
        "voucher code|promotional code|deal*",
        "割引券|クーポン券",
    ),
    "multiple": (
        "in combination|combined|along with",
        "組み合わせ",
    ),
    "price_drop": (
        "price change*|markdown|marked down|price cut|price reduction|cheaper now",
        "価格が下が",
    ),
    "tax": (
        "tax-inclusive|tax exclusive|before tax|after tax|plus tax",
        "外税|内税",
    ),
    "gift": (
        "gifting|xmas",
        "贈答|お土産",
    ),
    "wrap": (
        "wrapping paper|gift bag|gift box|decorat*",
        "熨斗|ギフト包装",
    ),
    "message": (
        "card message|greeting card|personal note|write something|letter|message card*",
        "メッセージカード",
    ),
    "hide_price": (
        "price tag|without prices|price hidden|amount paid",
        "値段を見せ|金額を伏せ|金額なし",
    ),
    "other_person": (
        "wife|husband|cousin|colleague|coworker|partner|uncle|aunt|grandson|granddaughter",
        "妻|同僚|叔父|叔母|孫",
    ),
    "international": (
        "ship abroad|worldwide|global*|south korea|new zealand|malaysia|netherlands|sweden|poland",
        "国際配送|海外配送|日本以外|外国から",
    ),
    "customs": (
        "import duty|tariff*|border|duty fee*|customs charge*",
        "関税",
    ),
    "language": (
        "english version of the site|english support",
        "英語表示|英語対応",
    ),
    "receipt": (
        "proof of payment|expense report|tax purpose*|for my records",
        "領収|但し書き",
    ),
    "company": (
        "corporation|organization|organisation|addressee|addressed to",
        "会社名|社名",
    ),
    "age_restricted": (
        "hentai|ecchi|18 and over|age restriction*|adults only|adult content",
        "成人指定|18歳未満",
    ),
    "children": (
        "teen*|young reader*|years old|age range|age group|all ages",
        "中学生|高校生|何歳",
    ),
    "search_hidden": (
        "not found|no results|missing from search|invisible|safe search|safesearch",
        "出てこない|ヒットしない",
    ),
    "stock": (
        "available now|in-stock",
        "在庫あり",
    ),
    "notify": (
        "tell me when|heads up|ping me|subscribe to alerts",
        "通知して|連絡して",
    ),
    "stock_label": (
        "ships within|usually dispatched|back-order*",
        "取り寄せ",
    ),
    "human": (
        "actual person|helpdesk|help desk|hotline|call center|call centre|reach you|talk with",
        "有人チャット|窓口|コールセンター",
    ),
    "bulk_business": (
        "bulk order*|large order*|classroom|business customer*|corporate customer*|reseller|quantity discount*",
        "大口注文|法人",
    ),
    "review": (
        "write a review|star|rate it|ratings",
        "星5|レビュー投稿",
    ),
    "wishlist": (
        "save it|shopping list|watchlist|watch list|want list",
        "あとで買う|後で買う|気になる",
    ),
}


def _merged(base: dict[str, tuple[str, str]], more: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Each concept's forms with the extra ones appended (duplicates dropped, order kept)."""
    merged = {}
    for name, (english, japanese) in base.items():
        extra_en, extra_ja = more.get(name, ("", ""))
        merged[name] = tuple(
            "|".join(dict.fromkeys(filter(None, f"{old}|{new}".split("|"))))
            for old, new in ((english, extra_en), (japanese, extra_ja))
        )
    return merged


CONCEPTS = _merged(CONCEPTS, _EVERYDAY)


CONCEPT_PREFIX = "~"  # concept tokens never collide with words or n-grams, which hold no "~"

# Concepts that say what kind of question it is, not what it is about: "how do I change a car tire"
# shares "how" and "change" with the FAQ, yet no store topic. They count for ranking, not as evidence.
_GENERIC_NAMES = (
    "ask_when ask_cost ask_why ask_how ask_meaning ask_what problem obtain change partial multiple quantity"
)
GENERIC_CONCEPTS = frozenset(CONCEPT_PREFIX + name for name in _GENERIC_NAMES.split())


def en_tokens(normalized: str) -> list[str]:
    """Words as the English side of the lexicon sees them: surface forms (english.surface), because
    the lexicon lists the inflections it means; a lemma would join "packaging" with "package"."""
    return surface(normalized)


class ConceptTagger:
    """Finds the lexicon's concepts in normalized text; built once per process (a few milliseconds)."""

    def __init__(self, concepts: dict[str, tuple[str, str]], normalize: Callable[[str], str]):
        exact: dict[str, list[tuple[tuple[str, ...], bool, str]]] = defaultdict(list)
        self._prefix: dict[str, list[str]] = defaultdict(list)
        ja_literals: dict[str, set[str]] = defaultdict(set)
        for concept, (english, japanese) in concepts.items():
            token = CONCEPT_PREFIX + concept
            for form in filter(None, english.split("|")):
                is_prefix = form.endswith("*")
                words = en_tokens(normalize(form.rstrip("*")))
                if not words:
                    continue
                if is_prefix and len(words) == 1:
                    self._prefix[words[0]].append(token)
                else:
                    exact[words[0]].append((tuple(words[1:]), is_prefix, token))
            for form in filter(None, japanese.split("|")):
                ja_literals[normalize(form)].add(token)
        # Phrases (two words or more) by their first word; single words resolved once per distinct
        # word and remembered, since the same few hundred words make up nearly every question.
        self._phrases = {w: [p for p in pats if p[0]] for w, pats in exact.items() if any(p[0] for p in pats)}
        self._first_words = frozenset(w for pats in exact.values() for p in pats for w in p[0]) | set(exact)
        self._single = {w: [p[2] for p in pats if not p[0]] for w, pats in exact.items()}
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._word_tokens: dict[str, tuple[str, ...]] = {}
        self._ja_tokens = {literal: sorted(tokens) for literal, tokens in ja_literals.items()}
        # Leftmost-longest, without overlap, for the same reason as English phrases: "お届け先" is an
        # address, not a delivery; "電子マネー" is a way to pay, not a digital edition.
        self._ja_scan = re.compile(_trie_pattern(ja_literals)) if ja_literals else None

    def _tokens_of_word(self, word: str) -> tuple[str, ...]:
        tokens = self._word_tokens.get(word)
        if tokens is None:
            found = list(self._single.get(word, ()))
            for length in self._prefix_lengths:
                if length > len(word):
                    break
                found.extend(self._prefix.get(word[:length], ()))
            tokens = self._word_tokens[word] = tuple(found)
        return tokens

    def knows(self, word: str) -> bool:
        """Whether a word (NFKC, lower case) is part of some English form of the lexicon."""
        found = surface(word)
        return len(found) == 1 and (bool(self._tokens_of_word(found[0])) or found[0] in self._first_words)

    def english(self, normalized: str) -> list[str]:
        words = en_tokens(normalized)
        found: list[str] = []
        covered: set[int] = set()
        # Phrases first, and the words inside a phrase do not count again on their own: "cash on
        # delivery" is a way to pay, not a delivery; "American Express" is a card, not express shipping.
        for i, word in enumerate(words):
            for rest, last_is_prefix, token in self._phrases.get(word, ()):
                end = i + 1 + len(rest)
                if end > len(words):
                    continue
                following = words[i + 1 : end]
                if last_is_prefix:
                    matched = following[:-1] == list(rest[:-1]) and following[-1].startswith(rest[-1])
                else:
                    matched = following == list(rest)
                if matched:
                    found.append(token)
                    covered.update(range(i, end))
        for i, word in enumerate(words):
            if i not in covered:
                found.extend(self._tokens_of_word(word))
        return found

    def japanese(self, normalized: str) -> list[str]:
        if self._ja_scan is None:
            return []
        found: list[str] = []
        for literal in self._ja_scan.findall(normalized):
            found.extend(self._ja_tokens[literal])
        return found


def _trie_pattern(literals: Iterable[str]) -> str:
    """One regular expression for many literals, factored as a trie so a scan tests few branches."""
    trie: dict = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy optional tail: the longest literal wins, a shorter one still matches on its own.
        return f"(?:{body})?" if "" in node else body

    return build(trie)
