"""Faker providers for Chinese sales data that Faker lacks: unified social credit codes
(统一社会信用代码, valid check digits), FMCG and industrial product names, sales regions,
retail store names, Chinese sales slogans in place of Faker's English ``catch_phrase``,
and moments near today for date and date-time fields (``recent_past``: the last 40 days,
so a "last contact" is not a year old; ``near_future``: the next 30 days). Field
``example`` hints name these like Faker's own providers."""

from __future__ import annotations

import datetime as dt

from faker.providers import BaseProvider

# GB 32100-2015: the 31 characters of a credit code (no I, O, Z, S, V) and the weights
# of its check digit; GB 11714-1997: the weights of the organisation code's own check.
CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# Administrative division codes of large commercial cities (GB/T 2260).
DIVISIONS = (
    "110105", "110108", "310104", "310115", "320102", "320505", "330106", "330206",
    "340104", "350203", "370212", "410105", "420106", "430104", "440106", "440305",
    "500103", "510107", "610113", "120116", "210202", "220102", "230103", "450103",
)  # fmt: skip
REGIONS = ("华东", "华南", "华北", "西南", "华中", "西北", "东北")
FMCG_BRANDS = (
    "康师傅", "统一", "农夫山泉", "伊利", "蒙牛", "娃哈哈", "洽洽", "三只松鼠", "良品铺子",
    "海天", "李锦记", "金龙鱼", "旺旺", "达利园", "元气森林", "青岛啤酒", "雪花", "立白",
    "蓝月亮", "维达", "心相印", "王老吉", "加多宝", "百草味",
)  # fmt: skip
FMCG_ITEMS = (
    ("红烧牛肉面", ("5连包", "12桶/箱", "24袋/箱")),
    ("饮用天然水", ("550ml×24", "1.5L×12", "380ml×24")),
    ("纯牛奶", ("250ml×16", "250ml×24", "1L×6")),
    ("酸奶", ("200g×10", "100g×8")),
    ("香瓜子", ("260g", "108g×12", "500g")),
    ("每日坚果", ("25g×30", "750g礼盒")),
    ("零添加酱油", ("500ml", "1.28L", "1.9L")),
    ("调和油", ("5L", "1.8L×6")),
    ("雪饼", ("520g", "84g×24")),
    ("气泡水", ("480ml×15", "330ml×24")),
    ("纯生啤酒", ("500ml×12", "330ml×24")),
    ("洗衣液", ("3kg", "1kg×4", "2kg+1kg")),
    ("抽纸", ("3层100抽×18包", "4层90抽×24包")),
    ("凉茶", ("310ml×24", "500ml×15")),
    ("夏威夷果", ("265g", "500g")),
)
INDUSTRIAL_BRANDS = ("西门子", "施耐德", "正泰", "德力西", "汇川", "欧姆龙", "三菱", "台达", "ABB")
INDUSTRIAL_ITEMS = (
    ("PLC控制模块", ("S7-1200", "CP1E-N30", "AM600")),
    ("变频器", ("7.5kW", "15kW", "22kW")),
    ("交流接触器", ("LC1D25", "CJX2-3210")),
    ("断路器", ("3P 63A", "1P 16A", "4P 100A")),
    ("伺服电机", ("750W", "1.5kW")),
    ("不锈钢球阀", ("DN25", "DN50", "DN80")),
    ("工业传感器", ("M12 PNP", "M18 NPN")),
)
STORE_BRANDS = (
    "好又多",
    "华润万家",
    "永辉",
    "联华",
    "物美",
    "美宜佳",
    "罗森",
    "便利蜂",
    "苏果",
    "大润发",
)
STORE_TYPES = ("超市", "便利店", "生活超市", "购物广场", "社区店")
SLOGANS_A = ("以客户为中心", "数据驱动", "全渠道", "一站式", "精细化", "高效协同", "可持续")
SLOGANS_B = (
    "的增长方案",
    "的服务体系",
    "的供应链解决方案",
    "的门店运营",
    "的渠道管理",
    "的数字化转型",
)


def credit_code_check(first17: str) -> str:
    """The 18th character of a unified social credit code."""
    total = sum(CODE_CHARS.index(c) * w for c, w in zip(first17, CODE_WEIGHTS, strict=True))
    return CODE_CHARS[(31 - total % 31) % 31]


def organization_code_check(first8: str) -> str:
    """The 9th character of an organisation code (digits and A–Z count 0–35)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    digit = 11 - total % 11
    return "X" if digit == 10 else "0" if digit == 11 else str(digit)


def is_valid_credit_code(code: str) -> bool:
    """Whether ``code`` is 18 characters of the code alphabet with both check digits."""
    return (
        len(code) == 18
        and all(c in CODE_CHARS for c in code)
        and organization_code_check(code[8:16]) == code[16]
        and credit_code_check(code[:17]) == code[17]
    )


class SalesProvider(BaseProvider):  # type: ignore[misc]
    """``credit_code``, ``product``, ``region``, ``store`` and a Chinese ``catch_phrase``."""

    def credit_code(self) -> str:
        """A unified social credit code of a company (registration 9, type 1)."""
        body = "".join(self.random_element("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        organization = body + organization_code_check(body)
        first17 = "91" + self.random_element(DIVISIONS) + organization
        return first17 + credit_code_check(first17)

    def product(self) -> str:
        """An FMCG product (most of the time) or an industrial part, with its pack."""
        if self.generator.random.random() < 0.75:
            brand, (item, packs) = self.random_element(FMCG_BRANDS), self.random_element(FMCG_ITEMS)
        else:
            brand = self.random_element(INDUSTRIAL_BRANDS)
            item, packs = self.random_element(INDUSTRIAL_ITEMS)
        return f"{brand} {item} {self.random_element(packs)}"

    def region(self) -> str:
        return str(self.random_element(REGIONS))

    def store(self) -> str:
        """A retail store: chain, format and branch (``永辉生活超市(徐汇店)``)."""
        district = self.generator.district()
        return (
            f"{self.random_element(STORE_BRANDS)}{self.random_element(STORE_TYPES)}({district}店)"
        )

    def catch_phrase(self) -> str:
        return f"{self.random_element(SLOGANS_A)}{self.random_element(SLOGANS_B)}"

    def recent_past(self) -> str:
        """An instant in the last 40 days (UTC ISO 8601)."""
        return self._from_now(-40 * 24 * 3600, 0)

    def near_future(self) -> str:
        """An instant in the next 30 days (UTC ISO 8601)."""
        return self._from_now(3600, 30 * 24 * 3600)

    def _from_now(self, low: int, high: int) -> str:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return (now + dt.timedelta(seconds=self.random_int(low, high))).isoformat()
