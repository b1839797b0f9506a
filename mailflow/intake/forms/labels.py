"""The labels Form 1 uses for each field, in the spellings applicants and bureaus write.

Each entry is a list of regular expressions matched in full against a label after
normalisation (NFKC, no spaces, no trailing colon, leading numbering removed). A bracketed
note such as 「（新規／更新）」 is tried both kept and removed. Keys are the ``applicant``
keys of the registration record. Order matters: the first key that matches wins, so
「氏名（ふりがな）」 is a kana label before 「氏名」 is a name label.
"""

from __future__ import annotations

REGISTRATION_LABELS: dict[str, list[str]] = {
    "kana": [r"ふりがな", r"フリガナ", r"よみがな", r"ヨミガナ", r"氏名\((ふりがな|フリガナ|カナ)\)", r"(氏名)?カナ"],
    "application_date": [r"申請(年月)?日", r"提出(年月)?日", r"記入(年月)?日", r"作成(年月)?日"],
    "application_type": [r"申請区分", r"申請種別", r"区分", r"新規[・/]更新(の別)?", r"新規更新の別"],
    "registration_number": [r"(MM)?登録番号", r"登録No\.?", r"登録ID"],
    "name": [r"氏名", r"名前", r"お名前", r"申請者(氏)?名", r"氏名\(自署\)"],
    "sex": [r"性別"],
    "birth_date": [r"生年月日", r"誕生日"],
    "age": [r"(満)?年齢"],
    "postal_code": [r"郵便番号", r"〒"],
    "address": [r"(現|ご|自宅)?住所", r"住所\(自宅\)"],
    "mobile": [r"携帯(電話)?(番号)?", r"電話番号\(携帯\)", r"携帯TEL"],
    "phone": [r"(自宅)?電話(番号)?", r"電話番号\(自宅\)", r"TEL", r"固定電話(番号)?", r"連絡先電話番号"],
    "email": [r"(電子)?メール(アドレス)?", r"Eメール(アドレス)?", r"E-?mail(アドレス)?", r"mail(アドレス)?"],
    "employment_status": [r"在職[・/]?退職の別", r"在職[・/]退職", r"就業状況", r"在職状況", r"現在の状況"],
    "retirement_date": [r"退職(予定)?(年月)?日", r"退職\(予定\)(年月)?日"],
    "last_employer": [r"最終勤務先", r"(現)?勤務先", r"現在の勤務先", r"勤務先名"],
    "position": [r"所属[・/]?役職", r"(最終)?役職", r"所属部署[・/]?役職"],
    "fields": [r"専門分野", r"得意分野", r"支援(可能)?分野"],
    "experience_years": [r"(当該分野の)?(実務)?経験年数"],
    "career": [r"(主な)?職歴", r"職務経歴", r"職歴\(主なもの\)"],
    "qualifications": [r"保有資格", r"(取得)?資格", r"資格[・/]免許"],
    "pr": [r"支援可能な内容[・/]?自己PR", r"自己PR", r"支援可能な内容", r"自己紹介"],
    "areas": [r"活動(可能)?(地域|エリア)", r"対応可能(地域|エリア)"],
    "consent": [r"個人情報の取(り)?扱いへの同意", r"個人情報の取(り)?扱い(について)?", r"同意(欄|確認)"],
}

# Column headings of the career table, and the record key each column fills.
CAREER_HEADERS: dict[str, list[str]] = {
    "period": [r"(在籍)?期間", r"年月", r"在籍年月"],
    "company": [r"会社名", r"勤務先(名)?", r"企業名"],
    "position": [r"部署[・/]?役職", r"所属[・/]?役職", r"部署", r"役職"],
    "duties": [r"(主な)?業務内容", r"職務内容", r"担当業務", r"内容"],
}

# Options of the choice fields, with the other spellings that mean the same option.
CHOICES: dict[str, dict[str, list[str]]] = {
    "application_type": {"新規": ["新規", "新規申請", "新規登録"], "更新": ["更新", "更新申請"]},
    "sex": {"男性": ["男性", "男"], "女性": ["女性", "女"], "回答しない": ["回答しない", "無回答"]},
    "employment_status": {
        "在職中": ["在職中", "在職", "就業中", "現職"],
        "退職済": ["退職済", "退職済み", "退職"],
    },
}

# Texts that answer the consent question without a check box.
CONSENT_YES = ["同意する", "同意します", "同意", "はい", "有"]
CONSENT_NO = ["同意しない", "同意しません", "いいえ", "無"]
