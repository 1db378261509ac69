// Search variants: template expansion, ablations and lists produce exactly the stated prompts; caps and bad input are
// refused naming the field.
import { describe, expect, it } from 'vitest';
import { InputError } from '../shared/errors.js';
import { parseMarkedPrompt } from '../shared/metrics/spans.js';
import { MAX_SEARCH_VARIANTS } from '../shared/search.js';
import { ablations, expandTemplate, searchVariants } from '../shared/search-variants.js';

function refused(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('template expansion', () => {
  it('expands the product of the alternatives, first span slowest, each variant a marked prompt keeping the span name', () => {
    const v = expandTemplate('A {{tone|formal||casual}} letter about {{topic|cats||dogs||birds}}.');
    expect(v.map((x) => x.text)).toEqual([
      'A {{tone|formal}} letter about {{topic|cats}}.',
      'A {{tone|formal}} letter about {{topic|dogs}}.',
      'A {{tone|formal}} letter about {{topic|birds}}.',
      'A {{tone|casual}} letter about {{topic|cats}}.',
      'A {{tone|casual}} letter about {{topic|dogs}}.',
      'A {{tone|casual}} letter about {{topic|birds}}.',
    ]);
    expect(v[4].label).toBe('tone=casual, topic=dogs');
    expect(parseMarkedPrompt(v[4].text)).toEqual({ text: 'A casual letter about dogs.', segments: [{ name: 'tone', charStart: 2, charEnd: 8 }, { name: 'topic', charStart: 22, charEnd: 26 }] });
  });

  it('keeps spans without alternatives exactly as written, and an empty alternative leaves the span (and one space) out', () => {
    const v = expandTemplate('{{intro|Hello.}} Tell a story. {{extra|It is short.||}} The end.');
    expect(v.map((x) => x.text)).toEqual(['{{intro|Hello.}} Tell a story. {{extra|It is short.}} The end.', '{{intro|Hello.}} Tell a story. The end.']);
    expect(v[1].label).toBe('extra=(left out)');
  });

  it('unnamed spans with alternatives get the name seg{k}; escapes stay literal', () => {
    const v = expandTemplate('\\{{x\\}} {{a||b}} and {{c|d}}');
    expect(v.map((x) => x.text)).toEqual(['\\{{x\\}} {{seg1|a}} and {{c|d}}', '\\{{x\\}} {{seg1|b}} and {{c|d}}']);
    expect(parseMarkedPrompt(v[0].text).text).toBe('{{x}} a and d');
  });

  it('a literal || inside a span is written \\||', () => {
    const v = expandTemplate('{{op|a \\|| b||c}}');
    expect(v.map((x) => x.text)).toEqual(['{{op|a || b}}', '{{op|c}}']);
  });

  it('refuses a template above the variant cap, naming the field and the cap', () => {
    const alts = Array.from({ length: 9 }, (_, k) => `w${k}`).join('||');
    const e = refused(() => expandTemplate(`{{a|${alts}}} {{b|${alts}}}`));
    expect(e.field).toBe('variants.template');
    expect(e.message).toContain(`${MAX_SEARCH_VARIANTS}`);
  });

  it('refuses bad templates naming the field and the position', () => {
    expect(refused(() => expandTemplate('no alternatives {{x|y}}')).field).toBe('variants.template');
    const open = refused(() => expandTemplate('a {{x|y||z'));
    expect(open.message).toMatch(/character 2.*never closed/);
    expect(refused(() => expandTemplate('a }} b')).message).toMatch(/closes no span/);
    expect(refused(() => expandTemplate('{{a|b {{c}}||d}}')).message).toMatch(/cannot nest/);
    // A variant that is empty (every span left out, nothing else) is refused too.
    expect(refused(() => expandTemplate('{{a|x||}}')).message).toMatch(/empty/);
  });
});

describe('ablations', () => {
  it('leaves out each marked span in turn, after the prompt as written', () => {
    const v = ablations('{{role|You are a poet.}} Write about {{topic|the sea}} today.');
    expect(v.map((x) => [x.label, x.text])).toEqual([
      ['as written', '{{role|You are a poet.}} Write about {{topic|the sea}} today.'],
      ['without role', 'Write about {{topic|the sea}} today.'],
      ['without topic', '{{role|You are a poet.}} Write about today.'],
    ]);
  });

  it('without marks, leaves out each sentence in turn', () => {
    const v = ablations('One fish. Two fish!\nRed fish? Blue.');
    expect(v.map((x) => x.text)).toEqual(['One fish. Two fish!\nRed fish? Blue.', 'Two fish!\nRed fish? Blue.', 'One fish. \nRed fish? Blue.', 'One fish. Two fish!\nBlue.', 'One fish. Two fish!\nRed fish? ']);
  });

  it('adds distinct seeded reorderings of the sentences, never the original order, capped by how many exist', () => {
    const v = ablations('A. B. C.', 10, 7);
    const orders = v.filter((x) => x.label.startsWith('order'));
    // 3 sentences: 3! - 1 = 5 other orders exist.
    expect(orders).toHaveLength(5);
    expect(new Set(orders.map((x) => x.text)).size).toBe(5);
    expect(orders.map((x) => x.text)).not.toContain('A. B. C.');
    for (const o of orders) expect(o.text.split(' ').sort()).toEqual(['A.', 'B.', 'C.']);
    expect(ablations('A. B. C.', 10, 7)).toEqual(v);
  });

  it('refuses what cannot be ablated, naming the field', () => {
    expect(refused(() => ablations('Just one sentence')).field).toBe('variants.ablate');
    expect(refused(() => ablations('{{a|x}} y', 2)).field).toBe('variants.reorder');
    const many = Array.from({ length: 70 }, (_, k) => `S${k}.`).join(' ');
    expect(refused(() => ablations(many)).message).toContain(`${MAX_SEARCH_VARIANTS}`);
  });
});

describe('lists', () => {
  it('keeps the prompts as given, labels P1.. unless labelled, and names the bad one', () => {
    expect(searchVariants({ prompts: ['a', { text: 'b', label: 'bee' }] })).toEqual([{ text: 'a', label: 'P1' }, { text: 'b', label: 'bee' }]);
    expect(refused(() => searchVariants({ prompts: ['a', '{{x'] })).field).toBe('variants.prompts.1');
    expect(refused(() => searchVariants({ prompts: ['a', '  '] })).field).toBe('variants.prompts.1');
  });
});
