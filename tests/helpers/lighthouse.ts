// Test texts of the search tests: inputs that repeat one passage's words, so a prompt holding that passage helps
// every input (the model copies) and a prompt of unrelated symbols does not.
export const PASSAGE = 'The old lighthouse keeper climbed the winding stairs every evening to light the lamp for the ships.';
export const INPUTS = [
  'The old lighthouse keeper climbed the winding stairs.',
  'Every evening the keeper climbed the stairs to light the lamp.',
  'The lamp in the old lighthouse was lit for the ships every evening.',
  'The winding stairs of the lighthouse led to the lamp.',
  'Ships saw the lamp that the old keeper lit every evening.',
  'He climbed the winding stairs to the lamp for the ships.',
  'The lighthouse keeper lit the lamp every evening for the ships.',
  'Every evening, the old keeper climbed to light the lamp.',
  'The ships watched for the lamp of the old lighthouse.',
  'The keeper of the old lighthouse climbed the stairs.',
  'The lamp was lit by the keeper every evening.',
  'The old keeper climbed the winding stairs once more.',
];
