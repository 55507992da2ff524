"""Our own Presidio recognizers: one small class per recognizer, registered here.

Each module holds one recognizer (a Presidio PatternRecognizer) for one entity, with its patterns,
context words and the validation that keeps look-alikes out (check digits, phonenumbers). Every
class is listed in RECOGNIZERS under its class name, and scanners.yaml switches them on by that
name in its `custom:` list (scanners.engine.build_analyzer adds them to Presidio's registry).

Identifiers that are mostly digits (My Number, a bare Hong Kong number, a postcode without 〒, a
Japanese number written as a bare run of digits) are reported only next to a context word. Those
recognizers look for the word themselves, in the characters on either side of the match
(scanners.recognizers.context), instead of relying on Presidio's lemma-based context enhancer: it
never matches multi-word context ("my number", "Hong Kong"), matches substrings ('tel' in 'hotel',
'hk' in 'HKT') and sees Japanese text without spaces as one token, so it would both miss context
and find context that is not there.
"""

from __future__ import annotations

from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

from scanners.recognizers.address import StreetAddressRecognizer
from scanners.recognizers.en_name import EnNameRecognizer
from scanners.recognizers.hk_phone import HkPhoneRecognizer
from scanners.recognizers.hkid import HkidRecognizer
from scanners.recognizers.jp_name import JpNameRecognizer
from scanners.recognizers.jp_phone import JpPhoneRecognizer
from scanners.recognizers.jp_postcode import JpPostcodeRecognizer
from scanners.recognizers.my_number import MyNumberRecognizer
from scanners.recognizers.passport import PassportRecognizer
from scanners.recognizers.payment_card import PaymentCardRecognizer

RECOGNIZERS: dict[str, type] = {
    cls.__name__: cls for cls in (JpPhoneRecognizer, JpPostcodeRecognizer, MyNumberRecognizer, HkPhoneRecognizer, HkidRecognizer)
}
# Masking other people in exports (scanners.others): addresses, names, passports, cards.
RECOGNIZERS.update({cls.__name__: cls for cls in (StreetAddressRecognizer, JpNameRecognizer, EnNameRecognizer, PassportRecognizer, PaymentCardRecognizer)})
# Presidio's own, but not in the set its registry loads by default (so `predefined:` cannot name it).
RECOGNIZERS.update({cls.__name__: cls for cls in (UkNinoRecognizer,)})

__all__ = ["RECOGNIZERS", "HkPhoneRecognizer", "HkidRecognizer", "JpPhoneRecognizer", "JpPostcodeRecognizer", "MyNumberRecognizer"]
