// Writes the two bundled input sets of children's stories for models/precache-stories-260k (llama2.c's stories260K,
// trained on TinyStories): every text below was written for this project, none is taken from TinyStories.
//   stories-lily-ball  short passages that go on with the story example's prompt ("...a little girl named Lily. She
//                      had a big red ball."), for a one-click experiment or search on that prompt.
//   stories-written    whole short stories with other children and things, for the model card's held-out loss.
// Maintainer tool: `node tools/make-story-input-sets.mjs` (rewrites server/experiments/input-sets/stories-*.json).
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outDir = path.join(root, 'server/experiments/input-sets');
const PROVENANCE = 'Written for Precache Lens by its authors (2026) in the style of children\'s stories such as TinyStories; not taken from TinyStories or any other data set, so never part of stories260K\'s training data.';
const LICENCE = 'MIT, as the rest of Precache Lens (Copyright (c) 2026 The Precache Lens authors).';

const LILY_BALL = [
  'Lily loved to play with her ball in the park.',
  'Every morning, Lily took the ball outside and threw it up to the sky.',
  'One day, the ball rolled down the hill. Lily ran after it as fast as she could.',
  'Lily kicked the ball to her friend Tom. Tom kicked it back, and they both laughed.',
  'The ball bounced over the fence. Lily was sad, but a kind man gave it back to her.',
  'Lily showed her red ball to her mom. "Look, Mom, it is so big!" she said.',
  'At night, Lily put the ball next to her bed and went to sleep.',
  'Lily\'s dog wanted to play too. He ran after the ball and barked.',
  'Lily threw the ball very high. It got stuck in a big tree.',
  'When it rained, Lily played with her ball inside the house.',
  'Lily and her brother took turns with the ball. They were very happy.',
  'The ball was red and shiny. Lily liked it more than all her other toys.',
  'Lily took her ball to the beach. She threw it and it landed in the water.',
  'A little bird sat on the ball. Lily smiled and waited for it to fly away.',
  'Lily wanted to share her ball with the other kids at the park.',
  'Lily bounced the ball on the ground, one, two, three times.',
  'The ball hit a flower pot. Lily said sorry to her mom.',
  'Lily\'s friend Sue had a ball too, but it was small and blue.',
  'Lily held the ball in her arms and gave it a big hug.',
  'One day, Lily could not find her ball. She looked under the bed and found it there.',
  'Lily rolled the ball to the cat. The cat pushed it back with its paw.',
  'Lily and her dad played catch with the ball in the garden.',
  'The ball went into the pond. Lily used a long stick to get it back.',
  'Lily was careful with her ball, because it was a gift from her grandma.',
  'Lily ran to the park with her ball. The sun was warm and the grass was green.',
  'The ball made a loud sound when it hit the wall. Lily laughed.',
  'Lily painted a happy face on her ball. Now the ball could smile too.',
  'Lily gave the ball to the new girl in the park, and they became friends.',
  'After playing with the ball all day, Lily was very tired.',
  'Lily threw the ball to the sky and tried to catch it, but she fell down.',
  'The wind blew the ball away. Lily chased it down the street.',
  'Lily took the ball to school to show her friends.',
  'Lily\'s ball lost some air. Her dad helped her pump it up again.',
  'Lily sat on the ball and bounced up and down. It was so much fun.',
  'The ball rolled under the car. Lily asked her mom for help.',
  'Lily played with her ball until the sun went down.',
  'Lily\'s little sister wanted the ball. Lily let her play with it.',
  'Lily and Tom kicked the ball back and forth across the yard.',
  'Lily found a big puddle and bounced the ball in it. Splash!',
  'Lily told her teddy bear about her red ball and all the games they played.',
];

const WRITTEN = [
  'Once upon a time, there was a boy named Sam. Sam had a little boat. He liked to put the boat in the bath and watch it float. One day, the boat tipped over. Sam was sad. His mom showed him how to turn it back. Sam smiled and said, "Thank you, Mom!" After that, Sam played with his boat every night.',
  'Mia was a small girl who loved the rain. When it rained, she put on her yellow boots and went outside. She jumped in every puddle she saw. A frog jumped next to her. "Hello, frog!" said Mia. The frog said, "Ribbit!" Mia laughed. They jumped in the puddles together until the sun came out.',
  'There was a big brown dog named Max. Max liked to dig in the garden. One day, he found an old bone. He was very happy. He ran to show his friend, the cat. The cat did not want the bone. She wanted to sleep in the sun. Max shared the sun with her, and they took a nap together.',
  'Ben had a red kite. He went to the hill with his dad to fly it. The wind was strong. The kite went up, up, up into the sky. Ben held the string very tight. Then the string broke, and the kite flew away. Ben was sad, but his dad said, "We can make a new kite together." Ben felt better.',
  'Once upon a time, there was a little bird. The bird lived in a tree near a pond. Every day, the bird sang a happy song. One day, a girl named Anna heard the song. She sat under the tree and listened. The bird saw Anna and sang louder. Anna clapped her hands. From that day on, Anna came to the tree every day.',
  'Tim wanted to help his mom in the kitchen. His mom was making a cake. Tim put the flour in the bowl. Some flour fell on the floor. Tim said, "Oops!" His mom smiled and gave him a spoon. Tim mixed the eggs and the milk. When the cake was ready, it was big and sweet. Tim was proud.',
  'Sara had a teddy bear named Fluffy. She took Fluffy everywhere. One day, she left Fluffy at the park. At home, Sara cried. Her dad took her back to the park. Fluffy was sitting on the bench, waiting. Sara gave Fluffy a big hug. "I will never leave you again," she said.',
  'There was a little fish named Finn. Finn lived in the sea with his family. He wanted to see the big whale. One day, he swam far away from home. He saw the whale, and the whale was very kind. The whale took Finn back to his family. Finn\'s mom was happy to see him.',
  'Once upon a time, a girl named Emma found a tiny seed. She put the seed in a pot with some dirt. Every day, she gave it water. The seed grew into a small green plant. Then it grew a pretty pink flower. Emma showed the flower to her friends. They all said it was the best flower in the town.',
  'Jack and his sister Amy went to the zoo. They saw a tall giraffe and a funny monkey. The monkey made silly faces. Amy laughed so much that she fell down. Jack helped her up. Then they ate ice cream and watched the lions sleep. It was a very good day.',
  'A little cat named Tom wanted to catch the moon. He climbed up the roof and reached out his paw. The moon was too far away. Tom sat down and looked at it. An owl flew by and said, "The moon is for looking, not for catching." Tom liked looking at the moon. He stayed on the roof until he fell asleep.',
  'Lucy had a big box. She did not know what to do with it. Then she had an idea. She drew windows and a door on the box. Now it was a house! Lucy put her toys in the house. Her brother came to play, and they had a party in the little house.',
];

function set(id, title, note, texts) {
  const documents = texts.map((_, i) => `precache-stories/${id}/${String(i + 1).padStart(2, '0')}`);
  return {
    id,
    title,
    provenance: PROVENANCE,
    licence: LICENCE,
    note,
    documents,
    passages: texts.map((text, i) => ({ text, doc: documents[i], offset: 0 })),
  };
}

const sets = [
  set('stories-lily-ball', 'Children\'s stories: Lily and her red ball (for precache-stories-260k)', 'Short passages that go on with the story example\'s prompt "Once upon a time, there was a little girl named Lily. She had a big red ball."', LILY_BALL),
  set('stories-written', 'Children\'s stories: short whole stories (for precache-stories-260k)', 'Twelve whole stories with other children, animals and things; the model card\'s held-out loss is computed on them.', WRITTEN),
];
for (const s of sets) {
  const texts = new Set(s.passages.map((p) => p.text));
  if (texts.size !== s.passages.length) throw new Error(`${s.id}: a passage appears twice`);
  fs.writeFileSync(path.join(outDir, `${s.id}.json`), `${JSON.stringify(s, null, 1)}\n`);
  console.log(`${s.id}: ${s.passages.length} passages`);
}
