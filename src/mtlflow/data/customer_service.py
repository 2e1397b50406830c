"""A seeded, reproducible Chinese customer-service NLU corpus for multi-task demos.

Every example carries three labels for one utterance, which is what makes the
corpus a multi-task benchmark:

* ``intent``: what the customer wants (one of :data:`INTENTS`);
* ``tags``: character-level BIO slot tags (slot types in :data:`SLOT_TYPES`);
* ``sentiment``: the customer's tone (one of :data:`SENTIMENTS`), or ``None``
  for rows left unlabelled for sentiment (about 30% by default), so that the
  sentiment head sees partially labelled data.

Example::

    {"text": "我想取消昨天下的订单",
     "tokens": ["我", "想", "取", "消", "昨", "天", "下", "的", "订", "单"],
     "tags": ["O", "O", "O", "O", "B-date", "I-date", "O", "O", "B-object", "I-object"],
     "intent": "cancel_order",
     "sentiment": "neutral"}

Tokens are single characters (``tokens == list(text)``; the text never contains
whitespace), so splitting a string into characters in TensorFlow reproduces them.

How utterances are built
------------------------
An utterance is ``[greeting][sentiment prefix] core [sentiment suffix][end mark]``.
The *core* comes from one of many hand-written templates per intent. Templates
use two bits of syntax: ``[a|b|]`` picks one alternative (possibly empty) and
``{slot}`` inserts a slot value. ``{object.order}`` is a value of slot type
``object`` drawn from the order-like objects; ``{product}`` draws from any
``product.*`` source; ``{company}`` is an untagged filler. Slot values come from
patterns such as ``<m>月<d>号`` or ``<city><street><no>号`` whose ``<field>``
parts are random numbers or *components* (garments, colours, cities, streets,
housing estates).

Labelling conventions: ``object`` is the business object a request is about
(订单, 快递, 发票, 退款 ...); attribute words such as 地址, 抬头, 电话 and id
labels such as 单号 are not slots. Sentiment is carried by cue phrases (angry:
气死了/什么破服务 ..., anxious: 急/麻烦快点 ..., satisfied: 谢谢/辛苦了 ...;
neutral rows have none), several per sentiment, and each intent has its own
sentiment mix (a complaint is mostly angry or anxious, never satisfied).

Held-out generalisation
-----------------------
Validation and test must measure generalisation, not memorisation, while staying
learnable, so they differ from train in the same style as train varies:

* templates: every intent has :data:`HELD_OUT_TEMPLATES` (about 20% of its
  templates) used only by validation and test, written as new arrangements of
  the key phrases its training templates use;
* values: up to 20% of the lexical values of each slot source (dates, objects,
  products, amounts ...) and of each component list (garments, streets ...) are
  reserved, seeded, and never reach train. Only values made of characters that
  the rest of their list still uses are reserved, so a held-out value is a new
  combination of familiar material (e.g. 会员单 held out while 会员订单 is seen,
  上个月5号 while 5号 and 上个月 are seen), which a character model can learn
  to place; a composed value gets one reserved component (a new street in an
  otherwise ordinary address).

Held-out rows use a held-out template with probability
:data:`HELD_OUT_TEMPLATE_RATE` and a reserved value for each slot with
probability :data:`HELD_OUT_VALUE_RATE`. The running example's template, 昨天
and 订单 are never reserved. No text occurs twice in the corpus, so test never
repeats train.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_EXAMPLE = "我想取消昨天下的订单"
"""The project's running example: intent cancel_order, date=昨天, object=订单."""

INTENTS: tuple[str, ...] = (
    "cancel_order",
    "query_order",
    "refund",
    "return_goods",
    "change_address",
    "change_phone",
    "change_payment",
    "modify_invoice_title",
    "query_logistics",
    "urge_delivery",
    "complaint",
)

SLOT_TYPES: tuple[str, ...] = (
    "date",
    "time",
    "object",
    "order_id",
    "product",
    "address",
    "phone",
    "amount",
)

SENTIMENTS: tuple[str, ...] = ("neutral", "anxious", "angry", "satisfied")

SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}

RARE_INTENT = "modify_invoice_title"
RARE_SHARE = 0.0075
"""Fraction of each split given to the rare intent (44 rows for n=6000)."""
RARE_MIN_PER_SPLIT = 3

INTENT_WEIGHTS = {
    "query_logistics": 14,
    "cancel_order": 13,
    "refund": 12,
    "query_order": 11,
    "urge_delivery": 11,
    "return_goods": 10,
    "change_address": 9,
    "complaint": 8,
    "change_payment": 6,
    "change_phone": 6,
}
"""Relative frequency of the non-rare intents (a plausible service-desk mix)."""

SENTIMENT_WEIGHTS = {
    # intent:              neutral, anxious, angry, satisfied
    "cancel_order": (45, 20, 15, 20),
    "query_order": (50, 25, 5, 20),
    "refund": (35, 30, 25, 10),
    "return_goods": (45, 20, 20, 15),
    "change_address": (50, 30, 0, 20),
    "change_phone": (55, 25, 0, 20),
    "change_payment": (55, 20, 5, 20),
    "modify_invoice_title": (50, 25, 5, 20),
    "query_logistics": (40, 35, 10, 15),
    "urge_delivery": (15, 55, 25, 5),
    "complaint": (10, 30, 60, 0),
}
"""Per-intent sentiment mix, in the order of :data:`SENTIMENTS`."""

HELD_OUT_FRACTION = 0.2
"""Largest share of the reservable entries of a value, component or cue list held out."""
MIN_RESERVABLE = 5
"""Lists with fewer reservable entries reserve nothing."""
HELD_OUT_TEMPLATE_RATE = 0.4
"""Probability that a validation/test row uses a held-out template."""
HELD_OUT_VALUE_RATE = 0.3
"""Probability that a validation/test slot value or cue phrase is a reserved one."""

RUNNING_TEMPLATE = "我想取消{date}下的{object.order}"
RUNNING_TEMPLATE_SHARE = 0.4
"""Share of cancel_order rows built from the running example's template."""
PROTECTED_VALUES = frozenset({"昨天", "订单", "快递", "发票", "退款"})
"""Values that are never reserved (the running example's and the plain heads)."""

GREETING_RATE = 0.25
MAX_ATTEMPTS = 60
"""Redraws allowed to find a text not yet in the corpus before a row is dropped."""

# --------------------------------------------------------------------------- #
# Templates
# --------------------------------------------------------------------------- #

TEMPLATES: dict[str, tuple[str, ...]] = {
    "cancel_order": (
        RUNNING_TEMPLATE,
        "帮我取消[一下|]{date}下的{object.order}",
        "[麻烦|请|]帮我把{date}的{object.order}取消[掉|了|]",
        "{date}下的{object.order}不想要了，[能帮我|可以]取消吗？",
        "{object.order}{order_id}[帮我|麻烦]取消一下",
        "我要取消{object.order}，[单号|编号]是{order_id}",
        "{date}买的{product}[不想要了|不要了|买错了]，[帮我|麻烦]取消{object.order}",
        "我{date}拍的{product}[能|可以]取消吗？",
        "[怎么|咋]取消{date}下的{object.order}？",
        "[能不能|可不可以]把{date}买{product}的{object.order}取消？",
        "{date}下错{object.order}了，[想|要]取消",
        "[取消|撤销]{object.order}{order_id}",
        "我{date}下的{object.order}还能[撤销|取消]吗？",
        "不小心重复下了{object.order}，[帮我|请]取消一个",
        "{date}的{product}{object.order}[帮忙|麻烦]取消[一下|]",
        "我想把{date}下的{object.order}取消掉，[不要了|重新再下]",
        "{object.order}还没发货的话[帮我|请]取消吧",
        "取消{date}那个{product}的{object.order}",
    ),
    "query_order": (
        "帮我查一下{object.order}{order_id}[的状态|现在什么状态|处理到哪一步了]",
        "我{date}下的{object.order}[现在|]是什么状态？",
        "{object.order}{order_id}下单成功了吗？",
        "[请问|]我{date}买的{product}付款成功了没？",
        "[怎么|咋]查不到我{date}下的{object.order}了？",
        "我的{object.order}为什么一直显示待付款？",
        "{date}下的{object.order}显示已关闭是怎么回事？",
        "能帮我看看{object.order}{order_id}有没有支付成功？",
        "我想查[一下|]{date}的{object.order}[详情|状态]",
        "{object.order}{order_id}的详情在哪[看|查]？",
        "我{date}买了{product}，怎么找不到这个{object.order}了？",
        "请问{object.order}{order_id}商家接单了吗？",
        "{date}的{object.order}审核通过了没有？",
        "我{date}下的{product}{object.order}还有效吗？",
        "{object.order}{order_id}[为什么|怎么]显示异常？",
        "帮我确认[一下|]{date}的{object.order}是不是下成功了",
        "{date}付完款的{object.order}[怎么|为什么]还是待支付？",
    ),
    "refund": (
        "{date}申请的{object.refund}[怎么还没|还没]到账",
        "我的{object.refund}[什么时候|啥时候]能到账？",
        "{product}已经退回去了，{amount}的{object.refund}什么时候到？",
        "[帮我|麻烦]查一下{object.refund}进度，单号是{order_id}",
        "{date}退的{product}，{object.refund}到哪了？",
        "我要给{object.order}{order_id}申请退款",
        "{object.refund}{amount}[还没收到|一直没到账]",
        "{date}说好退我{amount}，到现在还没到账",
        "{object.refund}会原路返回吗？",
        "{object.refund}退到哪个账户了？",
        "能不能把{object.refund}退到我的银行卡？",
        "我{date}收到的{product}有质量问题，[要求|申请]退款",
        "{object.refund}显示已退回，但我没收到",
        "单号{order_id}的{object.refund}处理好了吗？",
        "[请问|]{amount}的{object.refund}要多久到账？",
        "{date}取消的{object.order}，{object.refund}还没退回来",
        "{object.refund}为什么只退了{amount}？",
        "[帮我|麻烦]看看{date}的{object.refund}[审核|处理]到哪了",
    ),
    "return_goods": (
        "我{date}买的{product}想退货",
        "{product.apparel}尺码不合适，[能|可以]换[一个|个]大一号的吗？",
        "{product}[有质量问题|有瑕疵|质量不行]，我要退货",
        "[怎么|咋]申请退货？{date}收到的{product}",
        "{product.device}收到[就|]是坏的，[能|可以]换新吗？",
        "{date}买的{product.apparel}颜色发错了，要换货",
        "退货的话{product}寄到哪个地址？",
        "[我想|我要]把{product}退了，[还没拆封|没用过]",
        "{object.order}{order_id}里的{product}要退回去",
        "{product}[支持|能]七天无理由退货吗？",
        "退回的{object.parcel}{date}已经寄出了",
        "{product}和描述不符，申请退货",
        "我{date}收到的{product.device}少了配件，想换一个",
        "{product.apparel}买大了，想换小一号",
        "退货要自己寄吗？{product.device}[挺|很]重的",
        "能预约上门取件退{product}吗？",
        "{date}买的{product}还没拆，[能不能退|可以退吗]？",
        "{product}已经寄回去了，[退货|换货]进度怎么查？",
    ),
    "change_address": (
        "帮我把{object.order}的收货地址改成{address}",
        "我{date}下的{object.order}地址填错了，改成{address}",
        "收货地址[要|想]改一下，新地址是{address}",
        "{object.parcel}能改送到{address}吗？",
        "地址写错了，正确的是{address}",
        "[麻烦|请]把{object.order}{order_id}的地址换成{address}",
        "我搬家了，{date}买的{product}[能|可以]寄到{address}吗？",
        "修改收货地址，{address}",
        "{object.parcel}还没发的话地址改成{address}",
        "能不能把配送地址改到{address}？",
        "{date}的{object.order}收货地址少写了门牌号，完整的是{address}",
        "我想改[一下|]地址，{object.order}{order_id}",
        "{object.parcel}别送家里了，改送到{address}",
        "地址能改吗？改成{address}",
        "帮我[给|把]{object.order}改个地址，[送到|寄到]{address}",
        "{product}的收货地址[能|可以]换成{address}吗？",
        "下单时地址选错了，应该是{address}",
    ),
    "change_phone": (
        "收货人电话写错了，改成{phone}",
        "帮我把{object.order}的联系电话换成{phone}",
        "我换号了，新手机号是{phone}",
        "{date}下的{object.order}留的手机号不对，正确的是{phone}",
        "[麻烦|请]把收件人手机号改为{phone}",
        "{object.order}{order_id}的电话改成{phone}",
        "联系方式要改一下，{phone}",
        "手机号少输了一位，应该是{phone}",
        "{object.parcel}派送的时候打{phone}这个号",
        "快递员联系不上我，[请|麻烦]把电话改成{phone}",
        "我的手机号变了，{object.order}上的改成{phone}",
        "{date}买的{product}收件电话改成{phone}",
        "能修改预留手机号吗？新号码{phone}",
        "电话留成我同事的了，改回{phone}",
        "收货手机号改成{phone}，之前那个不用了",
        "请把联系人电话更新为{phone}",
    ),
    "change_payment": (
        "{object.order}能不能改用[微信|支付宝|银行卡|信用卡]支付？",
        "我想把{object.order}的付款方式换成[微信支付|支付宝|花呗|货到付款]",
        "{date}下的{object.order}还没付款，[能|可以]换个支付方式吗？",
        "[支付宝|微信|银行卡]付不了，[{object.order}|]能换[花呗|信用卡|云闪付]吗？",
        "{object.order}{order_id}想改成分期付款",
        "[可以|能]把{product}的付款方式改成货到付款吗？",
        "{date}付款的时候选错银行卡了，想换一张",
        "{amount}的{object.order}能改用花呗分期吗？",
        "我{date}下单选的货到付款，现在想改成在线支付",
        "支付方式可以修改吗？{object.order}{order_id}",
        "{object.order}付款方式[选错了|弄错了]，帮我改一下",
        "能不能换成对公转账？{object.order}金额{amount}",
        "{date}的{object.order}想换成信用卡付",
        "微信余额不够，{amount}的{object.order}改用银行卡付可以吗？",
        "[怎么|咋]把{object.order}从花呗改成余额支付？",
        "我想把{product}改成先用后付",
    ),
    "modify_invoice_title": (
        "{object.invoice}抬头开错了，[能|可以]改成单位名称吗？",
        "帮我把{object.invoice}抬头改成{company}",
        "{date}开的{object.invoice}抬头写错了",
        "{object.order}{order_id}的{object.invoice}抬头要改一下",
        "{object.invoice}抬头[能|可以]改成个人吗？",
        "我想修改{object.invoice}抬头，[新|正确的]抬头是{company}",
        "{product}的{object.invoice}抬头[开成|写成]个人了，要改成{company}",
        "{object.invoice}抬头少了几个字，应该是{company}",
        "换开{object.invoice}，抬头改为{company}",
        "{date}那张{object.invoice}抬头能改吗？",
        "公司名称变更了，{object.invoice}抬头要改成{company}",
        "{object.invoice}抬头填成了我个人名字，能改吗？",
        "[请|麻烦]把{object.invoice}的抬头更正为{company}",
        "税号没问题，就是{object.invoice}抬头错了",
        "{object.order}{order_id}开{object.invoice}的抬头写错了，[怎么|咋]修改？",
        "能帮我重开{object.invoice}吗？抬头改成{company}",
    ),
    "query_logistics": (
        "我的{object.parcel}到哪了？",
        "{date}寄的{object.parcel}物流怎么不更新了？",
        "帮我查一下{object.parcel}的物流信息",
        "{object.order}{order_id}的物流到哪了？",
        "我买的{product}[什么时候|啥时候]能送到？",
        "{object.parcel}显示已签收，但我没收到",
        "{object.parcel}[现在|目前]在哪个中转站？",
        "{date}发的{object.parcel}大概什么时候到{address}？",
        "查一下{product}的配送进度",
        "{object.parcel}是哪家物流公司送的？",
        "物流单号{order_id}查不到信息",
        "{object.parcel}一直没动静，到哪了？",
        "{date}的{object.parcel}能查到派送员电话吗？",
        "我想看看{object.parcel}的[运输轨迹|物流轨迹]",
        "{product}发的哪家物流？",
        "{object.parcel}送到{address}了吗？",
        "[请问|]{date}买的{product}现在到哪了？",
    ),
    "urge_delivery": (
        "{date}下的{object.order}[什么时候|啥时候]发货？",
        "[能不能|可以]催一下{object.order}{order_id}？",
        "帮我催[一下|]{date}买的{product}",
        "{product}[什么时候|啥时候]能发出？",
        "{object.order}[一直|]显示待发货，[能|可以]快点发吗？",
        "我{time}之前要用，{product}能尽快发货吗？",
        "[麻烦|请]帮我催一下{object.parcel}，{time}前要收到",
        "{date}拍的{product}还没发货，帮忙催催",
        "说好{date}发货的，[还没|到现在都没]发货",
        "能不能加急发货？{object.order}{order_id}",
        "{object.parcel}在派送站放着不送，能催一下吗？",
        "我的{object.order}发货太慢了，[能|]帮忙催[一下|]吗？",
        "希望{time}前能送到，{product}等着用",
        "催单，{object.order}{order_id}",
        "商家能不能早点发{product}？",
        "{object.parcel}[能不能|可以]{time}前送到？",
        "帮我联系下商家尽快发{date}的{object.order}",
        "{date}的{object.order}[催一下|催催]发货",
    ),
    "complaint": (
        "我要投诉{date}送货的快递员",
        "{product}质量太差了，我要投诉商家",
        "投诉！{date}的{object.parcel}被[扔在门口|放驿站]了也没通知",
        "你们客服{date}答应的事根本没办",
        "{object.parcel}被暴力运输，{product.device}都摔坏了",
        "快递员态度[极差|很差|太差]，{date}还骂人",
        "我要投诉你们的售后，{object.order}{order_id}一直没人管",
        "商家发的{product}是假货，我要投诉",
        "{date}的{object.parcel}没经过我同意就被签收了",
        "客服一直踢皮球，{object.refund}拖了半个月",
        "{product}和宣传的完全不一样，虚假宣传",
        "我要反映一下{date}配送员的服务问题",
        "{object.order}{order_id}被商家无故取消了，我要投诉",
        "快递员不送上门还让我自己去取，{object.parcel}是{date}到的",
        "你们的{product.device}用了一天就坏了，售后还不管",
        "投诉{object.parcel}派送员，{date}打电话一直不接",
    ),
}
"""Core-utterance templates per intent, used by every split (syntax in the module docstring)."""

HELD_OUT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "cancel_order": (
        "{date}下的{object.order}[帮我|麻烦]取消掉",
        "我不想要{date}买的{product}了，[取消|撤销]{object.order}吧",
        "[请问|]{object.order}{order_id}[还能|能不能]取消？",
        "麻烦取消一下我{date}下的{object.order}",
    ),
    "query_order": (
        "[请问|]{object.order}{order_id}现在是什么状态？",
        "帮我看看{date}下的{object.order}[支付成功了没|下单成功了没]",
        "我{date}下的{object.order}怎么显示待付款？",
        "{date}买{product}的{object.order}[详情|状态]在哪查？",
    ),
    "refund": (
        "{date}的{object.refund}[什么时候|啥时候]能到账？",
        "我的{object.refund}{amount}[怎么还没到账|还没退回来]",
        "{object.order}{order_id}的{object.refund}什么时候退回来？",
        "退了{product}，{object.refund}还没到账",
    ),
    "return_goods": (
        "{date}收到的{product}想退货，[怎么|咋]申请？",
        "{product.apparel}尺码不合适，想换小一号",
        "我要把{date}买的{product}退回去",
        "{product}[不想要了|不合适]，能七天无理由退货吗？",
    ),
    "change_address": (
        "{object.order}的收货地址[帮我|麻烦]改成{address}",
        "地址填错了，[帮我|麻烦]改成{address}",
        "我{date}买的{product}收货地址要改成{address}",
        "能把{object.parcel}的地址换成{address}吗？",
    ),
    "change_phone": (
        "{object.order}的收件人电话改成{phone}",
        "我的手机号填错了，正确的是{phone}",
        "联系电话[要|想]换成{phone}",
        "{date}下的{object.order}手机号改为{phone}",
    ),
    "change_payment": (
        "{object.order}的支付方式[能|可以]换成[微信|支付宝|花呗]吗？",
        "我想改一下付款方式，{object.order}{order_id}",
        "{date}下的{object.order}能不能改成货到付款？",
        "{amount}的{object.order}想换成信用卡付",
    ),
    "modify_invoice_title": (
        "{object.invoice}抬头写错了，要改成{company}",
        "{date}开的{object.invoice}抬头能改成{company}吗？",
        "[麻烦|请]帮我修改{object.invoice}抬头",
        "{object.order}{order_id}的{object.invoice}抬头开成个人了",
    ),
    "query_logistics": (
        "帮我看看{object.parcel}到哪了",
        "{date}买的{product}物流怎么不更新了？",
        "{object.parcel}的物流信息怎么查不到？",
        "我的{object.parcel}[什么时候|啥时候]能送到？",
    ),
    "urge_delivery": (
        "[帮我|麻烦]催一下{date}下的{object.order}",
        "{product}还没发货，[能|可以]尽快发吗？",
        "{object.order}{order_id}[什么时候|啥时候]发货？",
        "商家[什么时候|啥时候]发{product}？帮忙催催",
    ),
    "complaint": (
        "我要投诉{date}的快递员，态度太差了",
        "{product}是假货，我要投诉商家",
        "投诉！{object.parcel}被暴力运输了",
        "售后一直没人管，{object.order}{order_id}我要投诉",
    ),
}
"""Templates used only by validation and test: new arrangements of training key phrases."""

# --------------------------------------------------------------------------- #
# Slot values, fillers and cue phrases
# --------------------------------------------------------------------------- #

# Modifiers enumerated with their heads into lexical object values (拼团订单, 拼团单 ...).
ORDER_KINDS = (
    "预售", "拼团", "秒杀", "团购", "会员", "加急", "预约", "定制", "直播", "换购", "自营",
    "海外购", "生鲜", "家电", "以旧换新", "分期", "特价", "限时抢购", "积分兑换", "企业采购",
    "学生", "新人专享", "满减", "清仓", "品牌", "年货", "跨境", "次日达", "门店自提", "周期购",
)
COURIERS = (
    "顺丰", "京东", "中通", "圆通", "韵达", "申通", "邮政", "极兔", "德邦", "百世", "EMS",
    "同城", "国际", "冷链", "菜鸟", "丰网", "跨越", "安能", "宅急送", "优速", "天天", "闪送",
)
INVOICE_KINDS = ("电子", "纸质", "增值税", "增值税专用", "增值税普通", "全电", "数电", "机打", "电子普通")

SLOT_SOURCES: dict[str, tuple[str, ...]] = {
    "date": (
        "今天", "昨天", "前天", "大前天", "上周", "上上周", "上周末", "上个月", "这周",
        "前几天", "前两天", "上个星期", "双十一", "双十二", "618", "月初", "月中", "上个月底",
        "昨儿", "这个月", "本周", "周末", "国庆", "元旦", "年前", "上周<wd>", "周<wd>",
        "星期<wd>", "上星期<wd>", "<m>月<d>号", "<m>月<d>日", "<d>号", "<n>天前",
        "<cn>天前", "<n>天之前", "上个月<d>号",
    ),
    "time": (
        "上午<am>点", "下午<pm>点", "晚上<eve>点", "早上<am>点", "中午<noon>点",
        "下午<pm>点半", "晚上<eve>点半", "<hh>点", "<hh>点半", "明天上午", "明天下午",
        "明天中午", "今晚",
    ),
    "object.order.plain": ("订单", "单子"),
    "object.order.kind": tuple(kind + head for kind in ORDER_KINDS for head in ("订单", "单")),
    "object.parcel.plain": ("快递", "包裹", "快件", "货"),
    "object.parcel.courier": tuple(courier + head for courier in COURIERS for head in ("快递", "包裹")),
    "object.invoice.plain": ("发票", "专票", "普票"),
    "object.invoice.kind": tuple(kind + "发票" for kind in INVOICE_KINDS),
    "object.refund.plain": ("退款", "退的钱", "退款金额"),
    "object.refund.kind": (
        "运费", "差价", "保价款", "赔偿款", "补偿款", "退货款", "运费险", "押金", "定金", "尾款",
        "服务费", "违约金",
    ),
    "product.apparel": ("<garment>", "<garment>", "<colour><garment>"),  # bare garments twice as often
    "product.device": (
        "蓝牙耳机", "充电宝", "机械键盘", "无线鼠标", "电饭煲", "空气炸锅", "扫地机器人",
        "电动牙刷", "吹风机", "加湿器", "智能手表", "平板电脑", "笔记本电脑", "显示器",
        "路由器", "投影仪", "电风扇", "台灯", "跑步机", "电热水壶", "微波炉", "榨汁机",
        "咖啡机", "剃须刀", "AirPods耳机", "Switch游戏机", "Kindle阅读器", "小米手环",
        "洗碗机", "电动牙刷头", "蓝牙音箱", "游戏手柄", "行车记录仪", "电子秤", "破壁机",
        "净水器", "电烤箱", "取暖器", "冰箱", "洗衣机", "空调", "电视机", "油烟机", "燃气灶",
        "电磁炉", "豆浆机", "养生壶", "挂烫机", "吸尘器", "除螨仪", "按摩仪", "筋膜枪",
        "卷发棒", "直板夹", "体脂秤", "血压计", "耳温枪", "蓝牙键盘", "手写笔", "移动硬盘",
        "U盘", "摄像头", "智能门锁", "扫地机", "手机支架", "无线充电器", "降噪耳机", "电竞椅",
    ),
    "product.other": (
        "手机壳", "保温杯", "数据线", "床上四件套", "乳胶枕", "登山包", "行李箱", "儿童玩具",
        "积木", "奶粉", "纸尿裤", "洗发水", "面霜", "口红", "防晒霜", "香水", "书包", "茶叶",
        "坚果礼盒", "月饼", "大米", "猫粮", "狗粮", "瑜伽垫", "自行车", "雨伞", "手机膜",
        "iPhone15手机壳", "沐浴露", "洗衣液", "牙膏", "抽纸", "枕头", "蚕丝被", "收纳箱",
        "不粘锅", "菜刀", "水杯", "钢笔", "笔记本", "眼影盘", "护手霜", "粉底液", "精华液",
        "面膜", "洗面奶", "身体乳", "卸妆水", "牙刷", "毛巾", "浴巾", "四件套", "凉席", "蚊帐",
        "窗帘", "地毯", "沙发垫", "衣架", "晾衣架", "垃圾袋", "保鲜盒", "饭盒", "碗筷套装",
        "咖啡豆", "牛奶", "酸奶", "零食大礼包", "巧克力", "蜂蜜", "橄榄油", "挂面", "车厘子",
        "猕猴桃", "螃蟹礼券", "宠物玩具", "猫砂", "鱼缸", "绿萝", "多肉盆栽", "拼图", "乐高",
        "遥控车", "绘本", "文具套装",
    ),
    "address": (
        "<city><street><no>号",
        "<city><street><no>号<estate><bld>栋<unit>单元<room>",
        "<city><estate><bld>栋<room>室",
        "<street><no>号<estate><bld>号楼",
        "<city><street><no>号院<bld>号楼<room>",
        "<city><estate><bld>号楼<unit>单元",
    ),
    "order_id": ("<orderid>", "<longid>"),
    "phone": ("<mobile>",),
    "amount": ("<amt>元", "<amt>块", "<amt>块钱", "<round>多块", "<cnamt>块", "<cnamt>元"),
}
"""Value patterns per template slot; the slot type is the part before the first dot.

A pattern without components is a lexical value and may be reserved; a pattern
with components (``<colour><garment>``) is a structure whose components may be
reserved. A template slot without a source of its own (``{product}``,
``{object.order}``) draws uniformly from the sources of its family
(``product.apparel``, ``product.device``, ...), so plain 订单 stays as common
as all order kinds together; templates name one member when only it fits
(尺码 → apparel).
"""

COMPONENT_SOURCES: dict[str, tuple[str, ...]] = {
    "garment": (
        "羽绒服", "运动鞋", "连衣裙", "牛仔裤", "卫衣", "羊毛衫", "冲锋衣", "拖鞋", "衬衫",
        "短袖T恤", "休闲裤", "棉服", "帆布鞋", "马丁靴", "运动套装", "睡衣", "风衣", "西装",
        "半身裙", "毛衣", "打底裤", "羽绒马甲", "雪地靴", "高跟鞋", "夹克", "工装裤", "polo衫",
        "针织衫", "皮衣", "大衣", "保暖内衣", "袜子", "围巾", "手套", "帽子", "腰带", "凉鞋",
        "板鞋", "老爹鞋", "瑜伽裤", "泳衣", "校服", "童装外套",
    ),
    "colour": ("黑色", "白色", "灰色", "红色", "米色", "藏青色", "卡其色", "粉色", "浅蓝色", "墨绿色"),
    "city": (
        "北京市海淀区", "北京市朝阳区", "上海市浦东新区", "上海市徐汇区", "广州市天河区",
        "深圳市南山区", "杭州市西湖区", "成都市武侯区", "南京市鼓楼区", "武汉市洪山区",
        "西安市雁塔区", "重庆市渝北区", "苏州市姑苏区", "天津市南开区", "长沙市岳麓区",
        "郑州市金水区", "青岛市市南区", "厦门市思明区", "合肥市蜀山区", "济南市历下区",
        "沈阳市和平区", "昆明市五华区", "福州市鼓楼区", "宁波市鄞州区", "浙江省杭州市余杭区",
        "江苏省苏州市吴中区", "广东省佛山市禅城区", "四川省成都市高新区",
    ),
    "street": (
        "中关村大街", "建国路", "南京东路", "天河路", "科技园南路", "文三路", "人民南路",
        "中山北路", "解放大道", "长江路", "学院路", "珠江路", "淮海中路", "深南大道",
        "五一大道", "经三路", "香港中路", "湖滨路", "北京西路", "和平路", "延安西路",
        "江汉路", "滨江大道", "东风路", "朝阳北路", "望京街", "世纪大道", "工业园路",
        "环城西路", "青年路",
    ),
    "estate": (
        "阳光花园", "万科城", "碧桂园", "幸福里小区", "金地格林小镇", "龙湖天街", "翠湖小区",
        "绿地新都会", "保利花园", "融创壹号院", "世纪城", "华润城", "锦绣江南", "望江花园",
        "和谐家园", "丽都花园", "东方明珠小区", "紫荆苑", "书香门第", "滨江花园",
    ),
}
"""Named parts of composed slot values, reserved like lexical values."""

FILLER_SOURCES: dict[str, tuple[str, ...]] = {
    "company": (
        "<firmcity><brand><trade>有限公司",
        "<brand><trade>有限公司",
        "<firmcity><brand><trade>股份有限公司",
    ),
    "firmcity": ("北京", "上海", "杭州", "深圳", "广州", "成都", "南京", "武汉", "苏州", "西安"),
    "brand": ("星河", "蓝海", "华腾", "云帆", "启明", "恒信", "博远", "新锐", "锦程", "瑞丰", "思源", "嘉禾"),
    "trade": ("科技", "贸易", "文化传媒", "信息技术", "餐饮管理", "教育咨询", "电子商务", "网络科技"),
}
"""Untagged template fillers (invoice titles) and their parts; never reserved."""

GREETINGS = (
    "你好，", "您好，", "在吗？", "客服你好，", "亲，", "客服，", "hello，", "转人工，", "你好客服，",
    "人工客服，",
)

PREFIX_CUES: dict[str, tuple[str, ...]] = {
    "angry": (
        "气死我了，", "太离谱了！", "你们怎么回事？", "无语了，", "真是服了，", "搞什么啊，",
        "太过分了！", "什么破服务，", "我真的很生气，", "忍不了了，",
    ),
    "anxious": (
        "急！", "急急急，", "挺急的，", "麻烦快点，", "着急，", "有点急，", "在线等，",
        "等不及了，", "赶时间，", "很着急，",
    ),
    "satisfied": (
        "辛苦了，", "谢谢你们，", "你们服务真好，", "客服态度真好，", "一直很满意你们家，",
        "麻烦你了，", "先谢谢啦，", "上次的服务很满意，", "感谢耐心解答，",
    ),
}

SUFFIX_CUES: dict[str, tuple[str, ...]] = {
    "angry": (
        "太离谱了", "什么破服务", "气死了", "简直无语", "这都第几次了", "你们到底管不管",
        "太过分了", "能不能靠谱点", "真是服了你们", "烦死了", "垃圾服务",
    ),
    "anxious": (
        "麻烦快点", "挺急的", "在线等", "急用", "怎么还没人处理", "能不能快点", "等着用呢",
        "尽快啊", "拜托快一点", "我很着急", "怎么还没回复",
    ),
    "satisfied": (
        "谢谢", "谢谢啦", "辛苦了", "非常感谢", "多谢", "麻烦你了谢谢", "你们服务很好",
        "服务很满意", "感谢客服", "给你们点赞", "太感谢了", "客服真耐心",
    ),
}
"""Sentiment cue phrases; suffix cues get their separator and end mark when used."""

END_MARKS = {
    "neutral": ("", "", "。"),
    "anxious": ("", "！", "！！"),
    "angry": ("", "！", "！！"),
    "satisfied": ("", "！", "。"),
}
"""End-of-utterance marks per sentiment after a statement (questions take ？)."""

CUE_PLACEMENTS = ("prefix", "suffix", "suffix", "both")
"""How a non-neutral sentiment cue is placed (suffix is the most common)."""

CHINESE_AMOUNTS = ("五十", "八十", "一百", "两百", "三百", "三百五", "五百", "八百", "一千", "一千二", "两千")


def _digits(rng: random.Random, count: int) -> str:
    """Return ``count`` random decimal digits."""
    return "".join(rng.choice("0123456789") for _ in range(count))


NUMBER_FIELDS = {
    "m": lambda rng: str(rng.randint(1, 12)),
    "d": lambda rng: str(rng.randint(1, 30)),
    "n": lambda rng: str(rng.randint(2, 9)),
    "cn": lambda rng: rng.choice("两三四五六七"),
    "wd": lambda rng: rng.choice("一二三四五六日"),
    "am": lambda rng: str(rng.randint(7, 11)),
    "pm": lambda rng: str(rng.randint(1, 6)),
    "eve": lambda rng: str(rng.randint(6, 10)),
    "noon": lambda rng: rng.choice(("12", "1")),
    "hh": lambda rng: str(rng.randint(8, 21)),
    "no": lambda rng: str(rng.randint(1, 399)),
    "bld": lambda rng: str(rng.randint(1, 32)),
    "unit": lambda rng: str(rng.randint(1, 6)),
    "room": lambda rng: f"{rng.randint(1, 28)}0{rng.randint(1, 4)}",
    "orderid": lambda rng: f"20{rng.randint(21, 24)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    + _digits(rng, rng.randint(3, 6)),
    "longid": lambda rng: str(rng.randint(1, 9)) + _digits(rng, rng.randint(9, 15)),
    "mobile": lambda rng: "1" + rng.choice("3456789") + _digits(rng, 9),
    "amt": lambda rng: str(rng.choice((rng.randint(9, 99), rng.randint(100, 999), rng.randint(1000, 4999)))),
    "round": lambda rng: str(rng.choice((20, 30, 50, 80, 100, 200, 300, 500, 1000))),
    "cnamt": lambda rng: rng.choice(CHINESE_AMOUNTS),
}
"""Generators for the ``<field>`` parts of value patterns that are numbers."""

FIELD = re.compile(r"<(\w+)>")


def _characters(pattern: str) -> Counter:
    """Character counts of a value pattern, not counting its ``<field>`` parts."""
    return Counter(FIELD.sub("", pattern))


def _components(pattern: str) -> list[str]:
    """The component fields of a value pattern (``<colour><garment>`` → both)."""
    return [field for field in FIELD.findall(pattern) if field in COMPONENT_SOURCES]


# --------------------------------------------------------------------------- #
# Reserving held-out entries
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Pool:
    """Entries of one list, split into those train may use and reserved ones."""

    seen: tuple[str, ...]
    held_out: tuple[str, ...]

    @classmethod
    def split(cls, rng: random.Random, entries: tuple[str, ...]) -> Pool:
        """Reserve up to ~20% of the reservable ``entries`` for the held-out splits.

        Protected values and structural patterns (those with components) are
        never reserved; lists with few reservable entries reserve nothing. An
        entry is reserved only if each of its characters still occurs in an
        unreserved entry of the same list, so a held-out value is a new
        combination of characters its slot type uses in train (会员单 held out,
        会员订单 seen), not out-of-vocabulary noise a character model cannot
        place.
        """
        reservable = [e for e in entries if e not in PROTECTED_VALUES and not _components(e)]
        if len(reservable) < MIN_RESERVABLE:
            return cls(entries, ())
        rng.shuffle(reservable)
        known = sum((_characters(e) for e in entries), Counter())
        reserved = set()
        for entry in reservable:
            chars = _characters(entry)
            if len(reserved) < round(len(reservable) * HELD_OUT_FRACTION) and all(
                known[c] > count for c, count in chars.items()
            ):
                reserved.add(entry)
                known.subtract(chars)
        return cls(
            tuple(e for e in entries if e not in reserved),
            tuple(e for e in entries if e in reserved),
        )

    def draw(self, rng: random.Random, novel: bool) -> str:
        """Draw a reserved entry if ``novel`` (and any exist), else a train entry."""
        return rng.choice(self.held_out if novel and self.held_out else self.seen)


@dataclass(frozen=True)
class Lexicon:
    """Value patterns, components and cues of one seeded corpus, split seen/reserved."""

    slots: dict[str, Pool]
    components: dict[str, Pool]
    greetings: Pool
    prefix_cues: dict[str, Pool]
    suffix_cues: dict[str, Pool]

    @classmethod
    def build(cls, rng: random.Random) -> Lexicon:
        """Decide, from ``rng``, which entries of every list are reserved."""

        def split_all(sources: dict[str, tuple[str, ...]]) -> dict[str, Pool]:
            return {name: Pool.split(rng, entries) for name, entries in sources.items()}

        return cls(
            slots=split_all(SLOT_SOURCES),
            components=split_all(COMPONENT_SOURCES),
            greetings=Pool.split(rng, GREETINGS),
            prefix_cues=split_all(PREFIX_CUES),
            suffix_cues=split_all(SUFFIX_CUES),
        )

    def value(self, rng: random.Random, slot: str, novel: bool) -> str:
        """Realise a value for template slot ``slot`` (e.g. ``date``, ``object.order``).

        A novel value is a reserved lexical value, or a structure with exactly one
        reserved component; sources with neither (phone numbers, order ids) give
        fresh random values anyway.
        """
        if slot not in self.slots:
            slot = rng.choice([name for name in self.slots if name.startswith(slot + ".")])
        pool = self.slots[slot]
        options = (pool.held_out + tuple(p for p in pool.seen if _components(p))) if novel else ()
        if not options:
            return self._expand(rng, pool.draw(rng, False), None)
        pattern = rng.choice(options)
        components = _components(pattern)
        return self._expand(rng, pattern, rng.choice(components) if components else None)

    def _expand(self, rng: random.Random, pattern: str, novel_component: str | None) -> str:
        """Fill each ``<field>`` of a pattern; only ``novel_component`` is drawn reserved."""

        def fill(match: re.Match) -> str:
            field = match.group(1)
            if field in NUMBER_FIELDS:
                return NUMBER_FIELDS[field](rng)
            return self.components[field].draw(rng, field == novel_component)

        return FIELD.sub(fill, pattern)


def _filler(rng: random.Random, name: str) -> str:
    """Realise an untagged filler such as ``company``."""
    return FIELD.sub(lambda m: _filler(rng, m.group(1)), rng.choice(FILLER_SOURCES[name]))


def _template(rng: random.Random, intent: str, held_out: bool) -> str:
    """Pick a template; the running example's is favoured among cancel_order ones."""
    if held_out:
        return rng.choice(HELD_OUT_TEMPLATES[intent])
    if intent == "cancel_order" and rng.random() < RUNNING_TEMPLATE_SHARE:
        return RUNNING_TEMPLATE
    return rng.choice(TEMPLATES[intent])


# --------------------------------------------------------------------------- #
# Building one utterance
# --------------------------------------------------------------------------- #

Segment = tuple[str, str | None]
"""A piece of text and its slot type (``None`` for untagged text)."""


def _choose_alternatives(rng: random.Random, template: str) -> str:
    """Resolve every ``[a|b|]`` group of a template to one alternative."""
    return re.sub(r"\[([^\[\]]*)\]", lambda m: rng.choice(m.group(1).split("|")), template)


def _realise_core(rng: random.Random, lexicon: Lexicon, template: str, held_out: bool) -> list[Segment]:
    """Turn a template into segments, drawing a value for every ``{slot}``."""
    pieces = re.split(r"\{([\w.]+)\}", _choose_alternatives(rng, template))
    segments: list[Segment] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            segments.append((piece, None))
        elif piece in FILLER_SOURCES:
            segments.append((_filler(rng, piece), None))
        else:
            novel = held_out and rng.random() < HELD_OUT_VALUE_RATE
            segments.append((lexicon.value(rng, piece, novel), piece.split(".", 1)[0]))
    return segments


def _utterance(
    rng: random.Random, lexicon: Lexicon, intent: str, sentiment: str, held_out: bool
) -> list[Segment]:
    """Build ``[greeting][prefix cue] core [suffix cue][end mark]`` as segments."""

    def novel() -> bool:
        return held_out and rng.random() < HELD_OUT_VALUE_RATE

    template = _template(rng, intent, held_out and rng.random() < HELD_OUT_TEMPLATE_RATE)
    is_question = template.endswith("？")
    core = _realise_core(rng, lexicon, template.removesuffix("？"), held_out)

    placement = None if sentiment == "neutral" else rng.choice(CUE_PLACEMENTS)
    head = lexicon.greetings.draw(rng, novel()) if rng.random() < GREETING_RATE else ""
    if placement in ("prefix", "both"):
        head += lexicon.prefix_cues[sentiment].draw(rng, novel())
    if placement in ("suffix", "both"):
        cue = lexicon.suffix_cues[sentiment].draw(rng, novel())
        while cue in head:  # never say the same cue twice
            cue = lexicon.suffix_cues[sentiment].draw(rng, False)
        tail = ("？" if is_question else "，") + cue + rng.choice(END_MARKS[sentiment])
    elif is_question:
        tail = rng.choice(("？", "？", "？", ""))
    else:
        tail = rng.choice(END_MARKS[sentiment])
    return [(head, None), *core, (tail, None)]


def _example(segments: list[Segment], intent: str, sentiment: str | None) -> dict:
    """Assemble text, character tokens and BIO tags from labelled segments."""
    tokens: list[str] = []
    tags: list[str] = []
    for text, slot in segments:
        tokens.extend(text)
        if slot is None:
            tags.extend(["O"] * len(text))
        else:
            tags.extend([f"B-{slot}"] + [f"I-{slot}"] * (len(text) - 1))
    return {"text": "".join(tokens), "tokens": tokens, "tags": tags, "intent": intent, "sentiment": sentiment}


# --------------------------------------------------------------------------- #
# Corpus
# --------------------------------------------------------------------------- #


def _split_sizes(n: int) -> dict[str, int]:
    """Split ``n`` rows 80/10/10 (test takes the rounding remainder)."""
    train = round(n * SPLIT_FRACTIONS["train"])
    validation = round(n * SPLIT_FRACTIONS["validation"])
    return {"train": train, "validation": validation, "test": n - train - validation}


def _apportion(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Divide ``total`` proportionally to ``weights`` (largest-remainder method)."""
    scale = sum(weights.values())
    exact = {key: total * w / scale for key, w in weights.items()}
    counts = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(weights, key=lambda key: exact[key] - counts[key], reverse=True)
    for key in by_remainder[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


def _intent_plan(rng: random.Random, size: int) -> list[str]:
    """The shuffled intents of a split's rows: a fixed rare share, the rest by weight."""
    rare = max(RARE_MIN_PER_SPLIT, round(size * RARE_SHARE))
    counts = _apportion(size - rare, INTENT_WEIGHTS)
    plan = [RARE_INTENT] * rare + [intent for intent, count in counts.items() for _ in range(count)]
    rng.shuffle(plan)
    return plan


def _sentiment(rng: random.Random, intent: str) -> str:
    """Draw a sentiment compatible with ``intent``."""
    return rng.choices(SENTIMENTS, weights=SENTIMENT_WEIGHTS[intent])[0]


def generate(n: int = 6000, seed: int = 0, unlabelled_sentiment: float = 0.3) -> dict[str, list[dict]]:
    """Generate the corpus as ``{"train": [...], "validation": [...], "test": [...]}``.

    Splits are about 80/10/10 of ``n``. A fraction ``unlabelled_sentiment`` of the
    rows (drawn independently per row) has ``sentiment=None``; their text still
    carries the cue of the sentiment that was drawn. Texts are unique across the
    whole corpus; a row whose every redraw collides is dropped, so the total can
    fall slightly short of ``n``. The same ``(n, seed, unlabelled_sentiment)``
    always gives the same corpus.
    """
    if n < 100:
        raise ValueError(f"n must be at least 100 to fill three splits, got {n}")
    if not 0.0 <= unlabelled_sentiment <= 1.0:
        raise ValueError(f"unlabelled_sentiment must be in [0, 1], got {unlabelled_sentiment}")
    rng = random.Random(seed)
    lexicon = Lexicon.build(rng)
    used_texts: set[str] = set()
    corpus: dict[str, list[dict]] = {}
    for split, size in _split_sizes(n).items():
        held_out = split != "train"
        rows = []
        for intent in _intent_plan(rng, size):
            sentiment = _sentiment(rng, intent)
            label = None if rng.random() < unlabelled_sentiment else sentiment
            for _ in range(MAX_ATTEMPTS):
                example = _example(_utterance(rng, lexicon, intent, sentiment, held_out), intent, label)
                if example["text"] not in used_texts:
                    used_texts.add(example["text"])
                    rows.append(example)
                    break
        corpus[split] = rows
    return corpus


def slot_spans(example: dict) -> list[tuple[str, str]]:
    """Return the ``(slot_type, value)`` pairs of an example, in text order."""
    spans: list[tuple[str, str]] = []
    for token, tag in zip(example["tokens"], example["tags"]):
        if tag.startswith("B-"):
            spans.append((tag[2:], token))
        elif tag.startswith("I-"):
            spans[-1] = (spans[-1][0], spans[-1][1] + token)
    return spans


def write_jsonl(examples: list[dict], path) -> None:
    """Write examples as UTF-8 JSON lines (non-ASCII kept readable, None as null)."""
    with open(path, "w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example, ensure_ascii=False) + "\n")


def write_corpus(directory, n: int = 6000, seed: int = 0) -> dict[str, Path]:
    """Generate a corpus and write ``<split>.jsonl`` files; return their paths by split."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, examples in generate(n=n, seed=seed).items():
        paths[split] = directory / f"{split}.jsonl"
        write_jsonl(examples, paths[split])
    return paths
