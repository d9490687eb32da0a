#!/usr/bin/python3
# check-doc-coverage.py: fails when a public symbol of a GIR has no
# documentation.
#
#   check-doc-coverage.py ICloud-1.gir
#
# gi-docgen only warns about some undocumented symbols; this check is
# complete: every class, interface, record, enumeration (and each of its
# members), constant, function, constructor, method, virtual method,
# property, signal, callback, public field of a class struct, and every
# parameter and return value of a callable.
# Prints one line per missing piece and exits 1 when there is any.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
C = '{http://www.gtk.org/introspection/c/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'

# Elements that are symbols of their own, and must carry a <doc>.
TYPES = ('class', 'interface', 'record', 'enumeration', 'bitfield',
         'callback', 'alias', 'union')
CALLABLES = ('function', 'constructor', 'method', 'virtual-method')


def has_doc(element):
    doc = element.find(CORE + 'doc')
    return doc is not None and (doc.text or '').strip() != ''


def name_of(element):
    return (element.get(C + 'identifier') or element.get(C + 'type') or
            element.get(GLIB + 'type-name') or element.get('name') or '?')


def check_callable(element, owner, missing):
    if element.get('introspectable') == '0' and element.get('shadowed-by'):
        return
    if element.get('moved-to'):
        return
    what = '%s %s' % (element.tag.replace(CORE, ''), name_of(element))
    if owner and element.tag == CORE + 'virtual-method':
        what = 'virtual-method %s::%s' % (owner, element.get('name'))
    if not has_doc(element):
        missing.append(what)
    parameters = element.find(CORE + 'parameters')
    if parameters is not None:
        for param in parameters:
            if param.tag not in (CORE + 'parameter', CORE + 'instance-parameter'):
                continue
            if not has_doc(param):
                missing.append('%s: parameter %s' % (what, param.get('name')))
    ret = element.find(CORE + 'return-value')
    if ret is not None:
        rtype = ret.find(CORE + 'type')
        if rtype is not None and rtype.get('name') == 'none':
            return
        if not has_doc(ret):
            missing.append('%s: return value' % what)


def check_container(element, missing):
    owner = name_of(element)
    kind = element.tag.replace(CORE, '')
    # GType-only records (class structs, private structs) need no prose.
    is_class_struct = element.get(GLIB + 'is-gtype-struct-for') is not None
    if kind == 'record' and element.get('disguised') == '1':
        return
    if not is_class_struct and not has_doc(element):
        missing.append('%s %s' % (kind, owner))
    for child in element:
        tag = child.tag
        if tag == CORE + 'member':
            if not has_doc(child):
                missing.append('%s %s: member %s' % (kind, owner, name_of(child)))
        elif tag.replace(CORE, '') in CALLABLES:
            check_callable(child, owner, missing)
        elif tag == CORE + 'property':
            if not has_doc(child):
                missing.append('property %s:%s' % (owner, child.get('name')))
        elif tag == GLIB + 'signal':
            if not has_doc(child):
                missing.append('signal %s::%s' % (owner, child.get('name')))
        elif tag == CORE + 'field' and is_class_struct:
            # parent_class and the padding need no prose; a field holding a
            # virtual method is checked as the <virtual-method> (g-ir-scanner
            # takes its documentation from the invoker).
            if (child.get('private') == '1' or
                    child.get('name') in ('parent_class', 'padding') or
                    child.find(CORE + 'callback') is not None):
                continue
            if not has_doc(child):
                missing.append('class struct %s: field %s' % (owner, child.get('name')))


def main(paths):
    missing = []
    total = 0
    for path in paths:
        namespace = ET.parse(path).getroot().find(CORE + 'namespace')
        for element in namespace:
            tag = element.tag.replace(CORE, '')
            total += 1
            if tag in TYPES:
                if tag in ('callback',):
                    check_callable(element, None, missing)
                elif tag == 'alias':
                    if not has_doc(element):
                        missing.append('alias %s' % name_of(element))
                else:
                    check_container(element, missing)
            elif tag in CALLABLES:
                check_callable(element, None, missing)
            elif tag == 'constant':
                if not has_doc(element):
                    missing.append('constant %s' % name_of(element))
            elif tag == 'docsection':
                pass
    for line in missing:
        print('undocumented: %s' % line)
    if missing:
        print('%d undocumented symbols or parts in %s' % (len(missing), ', '.join(paths)))
        return 1
    print('every public symbol of %s is documented (%d top-level symbols)' %
          (', '.join(paths), total))
    return 0


if __name__ == '__main__':
    if len(sys.argv) < 2:
        print('usage: check-doc-coverage.py FILE.gir...', file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
