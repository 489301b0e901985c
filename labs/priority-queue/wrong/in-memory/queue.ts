// Known wrong: the queue lives in this process's memory, an array kept sorted by priority and
// arrival, with waiting dequeues parked on promises. Order, FIFO and blocking all look right from
// inside one process, but nothing is in Redis: another process sees an empty queue, and every
// task is gone when this one dies.
import { createRedis } from "@faultline/lab";

export interface Task {
  id: string;
  /** 0 is the most urgent. */
  priority: number;
  payload?: unknown;
}

const redis = createRedis(); // connected, and never used
void redis;

const queue: { task: Task; sequence: number }[] = [];
const waiters: ((task: Task) => void)[] = [];
let sequence = 0;

export async function enqueue(task: Task): Promise<void> {
  const waiter = waiters.shift();
  if (waiter) return waiter(task);
  queue.push({ task, sequence: ++sequence });
  queue.sort((a, b) => a.task.priority - b.task.priority || a.sequence - b.sequence);
}

export async function dequeue(timeoutSeconds: number): Promise<Task | null> {
  const head = queue.shift();
  if (head) return head.task;
  return new Promise((resolve) => {
    const waiter = (task: Task) => {
      clearTimeout(timer);
      resolve(task);
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(waiter), 1);
      resolve(null);
    }, timeoutSeconds * 1000);
    waiters.push(waiter);
  });
}
