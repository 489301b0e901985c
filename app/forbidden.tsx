import { StatusPage } from "@/components/site/status-page";

export default function Forbidden() {
  return (
    <StatusPage code="403" title="You do not have access to this page">
      <p>Your account does not have the role this page needs. If you think it should, ask an admin of this Faultline to change your role.</p>
    </StatusPage>
  );
}
